# expect: not ok 2 - .* - response_body_like - response is expected \(hello\)
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: response_body_like mismatch
--- config
    location = /t { echo hello; }
--- request
GET /t
--- response_body_like: ^world$
