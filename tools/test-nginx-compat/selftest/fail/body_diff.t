# expect: not ok 2 - .* - response_body - response is expected
# expect: \n#\s*-two\n#\s*\+TWO
use Test::Nginx::Socket;
no_long_string();
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: wrong multi-line body (Text::Diff diagnostics with no_long_string)
--- config
    location = /t { echo one; echo TWO; echo three; }
--- request
GET /t
--- response_body
one
two
three
