# expect: not ok 1 - .* - invalid chunked body received: zzz
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: malformed chunked response body
--- config
    location = /t {
        add_header Transfer-Encoding chunked;
        return 200 "zzz";
    }
--- request
GET /t
--- response_body: zzz
