# expect: not ok 1 - .* - unknown section --- response_bdy
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: typo in a section name
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_bdy
ko
