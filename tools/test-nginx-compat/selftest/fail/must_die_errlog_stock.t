# Debian's nginx (--error-log-path=stderr) reports config errors on stderr
# only: <servroot>/logs/error.log is never written, so this block fails -
# exactly as under the real Test::Nginx with the same binary.
# expect: ok 1 - .* - die as expected
# expect: not ok 2 - .* - pattern "invalid number of arguments in "return" directive" should match a line in error\.log
# env: TEST_NGINX_BINARY=/usr/sbin/nginx
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 2);
run_tests();
__DATA__

=== TEST 1: must_die + error_log with the stock binary
--- config
    location = /t {
        return a b c;
    }
--- must_die
--- error_log
invalid number of arguments in "return" directive
