# "Content-Length:" in --- more_headers is detected case-sensitively, so a
# lower-case one gets a second, automatic Content-Length: nginx says 400.
# expect: not ok 1 - .* - status code ok
# expect: got: '400'
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: duplicate Content-Length
--- config
    location = /t { echo_read_request_body; echo_request_body; }
--- more_headers
content-length: 5
--- request
POST /t
hello
--- response_body chomp
hello
