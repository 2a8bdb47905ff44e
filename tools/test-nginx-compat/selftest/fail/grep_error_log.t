# expect: not ok 3 - .* - grep_error_log_out \(req 0\)
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 3);
run_tests();
__DATA__

=== TEST 1: grep_error_log_out mismatch
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/http request line: "[^"]+"/
--- grep_error_log_out
http request line: "GET /other HTTP/1.1"
