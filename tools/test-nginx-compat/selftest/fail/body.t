# expect: not ok 2 - .* - response_body - response is expected
# expect: strings begin to differ at char 2
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: wrong body (Test::LongString diagnostics)
--- config
    location = /t { echo hello; }
--- request
GET /t
--- response_body
hallo
