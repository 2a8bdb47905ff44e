# expect: not ok 5 - .* - response_body - response is expected \(repeated req 0, req 1\)
# expect: not ok 4 - .* - status code ok
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 6);
run_tests();
__DATA__

=== TEST 1: pipelined: second response differs
--- config
    location = /a { echo a; }
    location = /b { echo b; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a\n", "B\n"]
--- no_error_log
[error]
