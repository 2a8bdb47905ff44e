# needs: nginx < 1.25.1
# Test::Nginx 0.32 writes "http2 on;" for any nginx newer than 1.19.9 (a
# bug: the directive exists from nginx 1.25.1 on), so with Debian's 1.22 a
# "--- http2" block cannot even start nginx.  The compat runner does the same.
# expect: unknown directive "http2"
# expect: Cannot start nginx
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: http2 on nginx 1.22
--- http2
--- config
    location = /t { return 200 "proto=$server_protocol\n"; }
--- request
GET /t
--- response_body
proto=HTTP/2.0
