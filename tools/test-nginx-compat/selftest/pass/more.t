# More blocks that must PASS.  Uses the 'no_plan' import form.
use Test::Nginx::Socket 'no_plan';

no_shuffle();
env_to_nginx("TNC_SELFTEST_ENV=from-env");

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->main_config) {
        $block->set_value("main_config", "env TNC_SELFTEST_ENV;\n");
    }
});

run_tests();

__DATA__

=== TEST 1: pipelined requests: one connection, keep-alive then close
--- config
    location = /a {
        echo "a:$http_connection";
    }
    location = /b {
        echo_read_request_body;
        echo "b:$http_connection:";
        echo_request_body;
    }
    location = /c {
        return 204;
    }
--- pipelined_requests eval
["GET /a", "POST /b\nbody!", "GET /c"]
--- error_code eval
[200, 200, 204]
--- response_body eval
["a:keep-alive\n", "b:keep-alive:\nbody!", ""]
--- no_error_log
[error]



=== TEST 2: several requests, several connections, arrays required
--- config
    location = /x {
        echo "x $arg_n";
    }
--- request eval
["GET /x?n=1", "GET /x?n=2"]
--- response_body eval
["x 1\n", "x 2\n"]
--- response_headers eval
["Content-Type: text/plain", "Content-Type: text/plain"]



=== TEST 3: raw_request in pieces with a middle delay
--- config
    location = /raw {
        echo "raw ok";
    }
--- raw_request eval
["GET /raw HTTP/1.1\r\nHo", "st: localhost\r\nConnection: close\r\n\r\n"]
--- raw_request_middle_delay: 0.05
--- response_body
raw ok



=== TEST 4: block without --- config reuses the previous server (no restart)
--- request
GET /raw
--- response_body
raw ok



=== TEST 5: must_die with a broken config (1 subtest)
--- config
    location = /t {
        return a b c;
    }
--- must_die



=== TEST 6: must_die with the expected exit code
--- config
    location = /t {
        no_such_directive;
    }
--- must_die: 1



=== TEST 7: skip_nginx skips the given number of subtests
--- config
    location = /t { return 500; }
--- request
GET /t
--- skip_nginx
2: > 0.0.1



=== TEST 8: SKIP section
--- config
    location = /t { return 500; }
--- request
GET /t
--- SKIP



=== TEST 9: shutdown_error_log is checked once nginx has been stopped
--- config
    location = /t {
        echo "shutdown test";
    }
--- request
GET /t
--- response_body
shutdown test
--- shutdown_error_log
signal 3 (SIGQUIT) received



=== TEST 10: response_body_filters, error_code_like, response_body_unlike
--- config
    location = /t {
        echo_status 203;
        echo hello;
    }
--- request
GET /t
--- response_body_filters
uc
--- error_code_like: ^20[0-9]$
--- response_body_unlike: hello



=== TEST 11: access_log / no_access_log
--- config
    location = /t {
        echo hi;
    }
--- request
GET /t?zzz=1
--- response_body
hi
--- access_log
GET /t?zzz=1 HTTP/1.1
--- no_access_log
GET /other



=== TEST 12: Content-Length given in more_headers: body kept verbatim
--- config
    location = /t {
        echo_read_request_body;
        echo_request_body;
    }
--- more_headers
Content-Length: 4
--- request eval
"POST /t\n ab\n"
--- response_body eval
" ab\n"



=== TEST 13: $ServerPort in expected response body / headers
--- config
    location = /t {
        echo "port=$server_port";
    }
--- request
GET /t
--- response_body
port=$ServerPort
--- shutdown_error_log eval
[qr/\[notice\] \d+#\d+: exit/, "signal 3 (SIGQUIT)"]
