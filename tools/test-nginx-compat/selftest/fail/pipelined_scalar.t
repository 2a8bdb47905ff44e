# expect: Bailout called\..*You asked for many requests, the expected results should be arrays as well
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 4);
run_tests();
__DATA__

=== TEST 1: pipelined requests need array-valued expectations
--- config
    location = /a { echo a; }
--- pipelined_requests eval
["GET /a", "GET /a"]
--- response_body
a
