# Debian's nginx (--error-log-path=stderr) reports errors found before the
# configuration is read on stderr only, but Test::Nginx 0.31 and later
# start nginx with "-e <servroot>/logs/error.log": they do reach error.log,
# and this block passes, with the stock binary (with 0.30 it needs
# nginx-errlog-wrapper, see must_die_wrapper.t).
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
