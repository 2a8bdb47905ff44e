# expect: not ok 1 - .* - unsupported section --- stap
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: a section the compat runner does not implement
--- config
    location = /t { echo ok; }
--- request
GET /t
--- stap
F(ngx_http_finalize_request) { println("x") }
--- stap_out
x
--- response_body
ok
