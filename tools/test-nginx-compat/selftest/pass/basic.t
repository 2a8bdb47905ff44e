# Blocks that must PASS (run with the echo module loaded, see ../run).
use Test::Nginx::Socket;

repeat_each(2);

# per block and repetition: status code + body = 2, plus the extra subtests
# counted below (same arithmetic as under the real Test::Nginx)
plan tests => repeat_each() * (blocks() * 2 + 6);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: plain GET, chunked response decoded
--- config
    location = /t {
        echo hello;
        echo world;
    }
--- request
GET /t
--- response_body
hello
world



=== TEST 2: error_code, request line defaults, response_headers (+1 +1)
--- config
    location = /t {
        add_header X-Foo bar always;
        return 404;
    }
--- request
    GET /t
--- error_code: 404
--- response_headers
X-Foo: bar
!X-Missing
--- response_body_like: 404 Not Found



=== TEST 3: request body gets Content-Length (trimmed body), headers as sent (+1)
--- config
    location = /t {
        echo_read_request_body;
        echo "[$echo_client_request_headers]";
        echo_request_body;
    }
--- request
POST /t
  hello world  
--- response_body eval
"[POST /t HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Length: 11\r
\r
]
hello world"
--- no_error_log
[error]



=== TEST 4: more_headers: repeated names, comment lines, explicit Host (+1)
--- config
    location = /t {
        echo "[$echo_client_request_headers]";
    }
--- more_headers
X-A: 1
# a comment
X-A: 2
Host: example.com
--- request
GET /t?a=1 HTTP/1.0
--- response_body eval
"[GET /t?a=1 HTTP/1.0\r
Connection: close\r
X-A: 1\r
X-A: 2\r
Host: example.com\r
\r
]
"
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n



=== TEST 5: chunked request body through --- more_headers + --- request (+1)
--- config
    location = /t {
        echo_read_request_body;
        echo_request_body;
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /t
5\r
hello\r
6\r
, body\r
0\r
\r
"
--- response_body chomp
hello, body
--- error_log
http request body chunked filter



=== TEST 6: error_code + grep_error_log (+1)
--- config
    location = /t {
        echo_status 201;
        echo ok;
    }
--- request
GET /t
--- error_code: 201
--- response_body
ok
--- grep_error_log eval: qr/http request line: "[^"]+"/
--- grep_error_log_out
http request line: "GET /t HTTP/1.1"



=== TEST 7: user_files and $TEST_NGINX_* expansion in --- config (+1)
--- config
    location = /t {
        alias $TEST_NGINX_SERVER_ROOT/html/foo/bar.txt;
    }
--- user_files
>>> foo/bar.txt
file contents
--- request
GET /t
--- response_body
file contents
--- response_headers_like
Content-Length: \d+



=== TEST 8: HEAD request with Content-Length and no body
--- config
    location = /t {
        return 200 "abc";
    }
--- request
HEAD /t
--- response_body eval
""



=== TEST 9: main_config + http_config sections
--- main_config
env TEST_NGINX_SELFTEST_MAIN;
--- http_config
    map $uri $tnc_mapped {
        default mapped;
    }
--- config
    location = /t {
        echo $tnc_mapped;
    }
--- request
GET /t
--- response_body
mapped



=== TEST 11: request split into packets with delay_before
--- config
    location = /t {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
[["POST /t\nhel", {value => "lo", delay_before => 0.05}]]
--- response_body eval
["hello"]



=== TEST 12: timeout + abort + ignore_response: no status/body subtests (-2 +1)
--- config
    location = /t {
        echo_sleep 1;
        echo done;
    }
--- request
GET /t
--- timeout: 200ms
--- abort
--- ignore_response
--- error_log
http request line: "GET /t HTTP/1.1"
