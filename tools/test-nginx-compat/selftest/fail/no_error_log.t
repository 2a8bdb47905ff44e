# expect: not ok 3 - .* - pattern "\[error\]" should not match any line in error\.log but matches line ".*open\(\) .*/nonexistent/t.* failed
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 3);
run_tests();
__DATA__

=== TEST 1: an [error] line appears
--- config
    location = /t { root /nonexistent; }
--- request
GET /t
--- error_code: 404
--- response_body_like: 404 Not Found
--- no_error_log
[error]
