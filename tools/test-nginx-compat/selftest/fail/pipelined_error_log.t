# With --- pipelined_requests the error log is checked once per response
# and (unless check_accum_error_log) each check only sees the lines logged
# since the previous one: the 2nd check misses the line.  Same in the real
# Test::Nginx.
# expect: ok 3 - .* - pattern "http request line: "GET /b HTTP/1\.1"" matches a line in error\.log \(req 0\)
# expect: not ok 6 - .* - pattern "http request line: "GET /b HTTP/1\.1"" should match a line in error\.log \(req 0\)
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 6);
run_tests();
__DATA__

=== TEST 1: pipelined + error_log
--- config
    location = /a { echo a; }
    location = /b { echo b; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["a\n", "b\n"]
--- error_log
http request line: "GET /b HTTP/1.1"
