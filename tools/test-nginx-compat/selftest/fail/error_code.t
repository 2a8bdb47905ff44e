# expect: not ok 1 - \S+ TEST 1: wrong status - status code ok
# expect: got: '200'\n#\s+expected: '404'
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: wrong status
--- config
    location = /t { echo ok; }
--- request
GET /t
--- error_code: 404
--- response_body
ok
