# expect: Bailout called\..*No environment TEST_NGINX_NO_SUCH_VAR_FOR_SELFTEST defined
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: undefined $TEST_NGINX_ variable in --- config
--- config
    location = /t { echo $TEST_NGINX_NO_SUCH_VAR_FOR_SELFTEST; }
--- request
GET /t
--- response_body
x
