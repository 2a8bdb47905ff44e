# expect: not ok 1 - ERROR: client socket timed out - \S+ TEST 1: slow response
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: slow response
--- config
    location = /t { echo_sleep 1; echo late; }
--- request
GET /t
--- timeout: 200ms
--- response_body
late
