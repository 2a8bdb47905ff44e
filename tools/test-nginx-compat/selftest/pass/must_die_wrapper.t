# env: TEST_NGINX_BINARY=@TOOLDIR@/nginx-errlog-wrapper
# With nginx-errlog-wrapper, start-up errors land in <servroot>/logs/error.log
# (as with OpenResty / default-prefix builds), so --- must_die + --- error_log
# works - with the real Test::Nginx and with the compat runner alike.  The
# line number also checks that nginx.conf has the real framework's layout
# (first line of --- config is line 39 here, as in Test::Nginx 0.32).
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 3);
run_tests();
__DATA__

=== TEST 1: must_die + error_log (+ no_error_log)
--- config
    location = /t {
        return a b c;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "return" directive in \S+/conf/nginx\.conf:40$}
--- no_error_log
[error]
