# expect: not ok 3 - .* - pattern "this never gets logged" should match a line in error\.log \(req 0\)
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 3);
run_tests();
__DATA__

=== TEST 1: expected error_log line missing
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body
ok
--- error_log
this never gets logged
