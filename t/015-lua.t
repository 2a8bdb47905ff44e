# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The interplay with lua-nginx-module: a body that access_by_lua read
# before the module (ngx.req.read_body(), in memory or in a file) is still
# verified, from r->request_body, and forwarded byte for byte.
#
# These are the only blocks of the suite that need lua.  The file is
# skipped, and says why, when nginx has no lua module: neither loaded
# (TEST_NGINX_LOAD_MODULES) nor built in.

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest;
use SmileApp qw(:DEFAULT have_lua tx_event forwarded tampered);

BEGIN {
    if (!have_lua()) {
        Test::More::plan(skip_all => "needs lua-nginx-module (ngx_http_lua_module.so "
            . "in TEST_NGINX_LOAD_MODULES, or built into nginx) to read the "
            . "body before the module does");
    }
}

repeat_each(2);
no_shuffle();
no_long_string();

# about 40 KB: larger than client_body_buffer_size 1k, smaller than 1m
our $TX = tx_event('tx-event-40k', 400);

add_block_preprocessor(\&with_app);

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__


=== TEST 1: a body read earlier (access_by_lua) in memory is still verified
--- config
    location = /hook {
        access_by_lua_block {
            ngx.req.read_body()
        }
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_buffer_size 1m;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::TX)
--- request eval
::post($::TX)
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::TX)
--- error_log eval
"app received POST /hook with " . length($::TX) . " body bytes"
--- no_error_log
a client request body is buffered to a temporary file
smile webhook rejected
[error]



=== TEST 2: a body read earlier (access_by_lua) in memory: tampered is rejected
--- config
    location = /hook {
        access_by_lua_block {
            ngx.req.read_body()
        }
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_buffer_size 1m;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::TX)
--- request eval
::post(::tampered($::TX))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           ', unverified event id "tx-event-40k"')
--- no_error_log
app received



=== TEST 3: a body read earlier (access_by_lua) with client_body_in_file_only on is still verified
--- config
    location = /hook {
        access_by_lua_block {
            ngx.req.read_body()
        }
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_in_file_only on;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::TX)
--- request eval
::post($::TX)
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::TX)
--- error_log eval
"app received POST /hook with " . length($::TX) . " body bytes"
--- no_error_log
smile webhook rejected
[error]



=== TEST 4: a body read earlier (access_by_lua) with client_body_in_file_only on: tampered is rejected
--- config
    location = /hook {
        access_by_lua_block {
            ngx.req.read_body()
        }
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_in_file_only on;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::TX)
--- request eval
::post(::tampered($::TX))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           ', unverified event id "tx-event-40k"')
--- no_error_log
app received



=== TEST 5: a body read earlier (access_by_lua), arriving in two packets and spilled to a file
--- config
    location = /hook {
        access_by_lua_block {
            ngx.req.read_body()
        }
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_buffer_size 1k;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::TX)
--- request eval
[["POST /hook\n" . substr($::TX, 0, 20000),
  {value => substr($::TX, 20000), delay_before => 0.02}]]
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::TX)
--- error_log eval
["a client request body is buffered to a temporary file",
 "app received POST /hook with " . length($::TX) . " body bytes"]
--- no_error_log
smile webhook rejected
[error]
