# expect: not ok 2 - .* - raw resp headers unlike
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 3);
run_tests();
__DATA__

=== TEST 1: raw_response_headers_unlike matches
--- config
    location = /t { echo ok; }
--- request
GET /t
--- raw_response_headers_unlike: Server: nginx
--- response_body
ok
