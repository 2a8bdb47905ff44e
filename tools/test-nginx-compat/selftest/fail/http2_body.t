# needs: nginx >= 1.25.1
# expect: not ok 2 - .* - response_body - response is expected
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: http2 with a wrong body
--- http2
--- config
    location = /t { return 200 "proto=$server_protocol\n"; }
--- request
GET /t
--- response_body
proto=HTTP/1.1
