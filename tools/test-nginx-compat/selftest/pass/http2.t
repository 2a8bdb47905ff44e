# needs: nginx >= 1.25.1
# HTTP/2 via curl (--- http2).  Test::Nginx 0.32 turns HTTP/2 on with the
# "http2" directive for any nginx newer than 1.19.9, and nginx has it only
# from 1.25.1 on: with an older nginx see fail/http2_old_nginx.t.  No echo
# module here (the nginx is another build than Debian's).
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2 + 1);
run_tests();
__DATA__

=== TEST 1: HTTP/2 via curl (--- http2) (+1)
--- http2
--- config
    location = /t {
        return 200 "proto=$server_protocol\n";
    }
--- request
GET /t
--- response_body
proto=HTTP/2.0
--- raw_response_headers_like: ^HTTP/2 200
