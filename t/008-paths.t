# Every path into an enabled location gets the same guarantee: subrequests
# (mirror, auth_request, SSI include), internal redirects (try_files into a
# location of another configuration), error_page re-entry (a rejection, a
# body read that failed); and what a client can send that looks like
# X-Smile-* to the app.  See README.md, "Subrequests, internal redirects
# and error pages".
#
# The app is "seen": an nginx server of the same instance that answers
# "seen" and writes one access log line per request it receives, with the
# X-Smile-* headers it got, so that a block can show what reached the app
# (and that nothing did).  TEST 21 uses the echo app of t/lib/SmileApp.pm.

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest;
use SmileApp qw(error_page hdrs post conf_error planned_tests
                $ECHO_HTTP_CONFIG);

repeat_each(2);
no_shuffle();
no_root_location();

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
no_long_string();

our $USER   = event_body('01_user_created.json');
our $USERID = 'et-123abc456def789abc123def456abc78';
our $FORGED = '{"id":"forged","type":"USER_CREATED","forged":true}';

# an id written as \u escapes: 30 "A" once decoded
our $ESCAPED = '{"id":"' . ('\u0041' x 30) . '","version":1,'
               . '"type":"\u0055SER_CREATED","data":{"userId":"u-1"}}';

our $SEEN_HTTP_CONFIG = <<'_EOC_';
    server_tokens off;

    log_format seen 'seen $request_method $uri id="$http_x_smile_event_id" '
                    'type="$http_x_smile_event_type" '
                    'user="$http_x_smile_user_id" '
                    'attempt="$http_x_smile_delivery_attempt"';

    upstream seen {
        server unix:$TEST_NGINX_SERVER_ROOT/logs/seen.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/logs/seen.sock;
        access_log $TEST_NGINX_SERVER_ROOT/logs/access.log seen;

        location / {
            return 200 "seen $uri\n";
        }

        location = /fail {
            return 503;
        }

        location = /error.html {
            return 200 "the app's error page\n";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $SEEN_HTTP_CONFIG);
    }
});

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: mirror: a forged request mirrored into an enabled location is refused there; the app never gets it, and the mirror's source is answered as usual
--- config
    access_log off;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location = /mirror-src {
        mirror /hook;
        proxy_pass http://seen/public;
    }
--- more_headers eval
::hdrs($::FORGED, ::sign($::FORGED, 'guess'), "X-Smile-Event-Id: forged")
--- request eval
::post($::FORGED, "/mirror-src")
--- response_body
seen /public
--- error_log eval
qr/\[warn\] .*smile webhook rejected request: bad_signature \(no configured secret matches the signature\), unverified event id "forged", subrequest "\/hook", client: 127\.0\.0\.1, server: localhost, request: "POST \/mirror-src HTTP\/1\.1"/
--- access_log eval
qr/^seen POST \/public id="forged"/m
--- no_access_log eval
qr/seen \w+ \/hook/
--- no_error_log
[error]



=== TEST 2: mirror: an unsigned request mirrored into an enabled location is refused (missing_signature)
--- config
    access_log off;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location = /mirror-src {
        mirror /hook;
        proxy_pass http://seen/public;
    }
--- more_headers eval
"X-Smile-Event-Type: USER_CREATED\nContent-Length: " . length($::FORGED)
--- request eval
::post($::FORGED, "/mirror-src")
--- response_body
seen /public
--- error_log eval
qr/smile webhook rejected request: missing_signature \(no signature header\), subrequest "\/hook"/
--- no_access_log eval
qr/seen \w+ \/hook/
--- no_error_log
[error]



=== TEST 3: mirror: an authentic event mirrored into an enabled location is checked over the main request's body and forwarded with the event's headers, the client's X-Smile-* removed from the subrequest only
--- config
    access_log off;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location = /mirror-src {
        mirror /hook;
        proxy_pass http://seen/public;
    }
--- more_headers eval
::hdrs($::USER, undef, "X-Smile-Event-Id: forged")
--- request eval
::post($::USER, "/mirror-src")
--- response_body
seen /public
--- access_log eval
[qr/^seen POST \/hook id="\Q$::USERID\E" type="USER_CREATED" user="tenantId-/m,
 qr/^seen POST \/public id="forged" type="-" user="-"/m]
--- no_error_log
smile webhook rejected
[error]



=== TEST 4: mirror: a body spilled to a temporary file is read back for the subrequest
--- config
    access_log off;
    client_body_buffer_size 1k;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location = /mirror-src {
        mirror /hook;
        proxy_pass http://seen/public;
    }
--- more_headers eval
::hdrs($::USER . (' ' x 4000))
--- request eval
::post($::USER . (' ' x 4000), "/mirror-src")
--- response_body
seen /public
--- access_log eval
qr/^seen POST \/hook id="\Q$::USERID\E" type="USER_CREATED"/m
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
smile webhook rejected
[error]



=== TEST 5: mirror with mirror_request_body off: the subrequest has no body to check and is refused
--- config
    access_log off;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location = /mirror-src {
        mirror /hook;
        mirror_request_body off;
        proxy_pass http://seen/public;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER, "/mirror-src")
--- response_body
seen /public
--- error_log eval
qr/smile webhook rejected request: bad_signature \(a subrequest without the whole request body\), subrequest "\/hook"/
--- no_access_log eval
qr/seen \w+ \/hook/
--- no_error_log
[error]



=== TEST 6: auth_request into an enabled location: its subrequest is a GET without a body, so even an authentic event is refused (405, which auth_request turns into 500), and neither location reaches the app
--- config
    access_log off;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location = /auth-src {
        auth_request /hook;
        proxy_pass http://seen/protected;
    }
--- more_headers eval
::hdrs($::USER, undef, "X-Smile-Event-Id: forged")
--- request eval
::post($::USER, "/auth-src")
--- error_code: 500
--- error_log eval
[qr/smile webhook rejected request: method_not_allowed \(method is not POST\), subrequest "\/hook"/,
 qr/auth request unexpected status: 405/]
--- no_access_log eval
qr/seen /



=== TEST 7: SSI include virtual of an enabled location: a GET subrequest, refused (405); the page is served, the app never reached
--- config
    access_log off;

    location = /page.html {
        ssi on;
        root html;
    }

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }
--- user_files
>>> page.html
before <!--# include virtual="/hook" --> after
--- more_headers eval
"Smile-Signature: " . ::sign($::USER)
--- request
GET /page.html
--- response_body_like chomp
\Abefore .*405 Not Allowed.* after\n\z
--- error_log eval
qr/smile webhook rejected request: method_not_allowed \(method is not POST\), subrequest "\/hook", client: 127\.0\.0\.1, server: localhost, request: "GET \/page\.html HTTP\/1\.1"/
--- no_access_log eval
qr/seen /
--- no_error_log
[error]



=== TEST 8: a body that grows too large in its second write, with error_page pointing into the same enabled location (which forwards): answered with nginx's 413, not left hanging
--- config
    access_log off;
    error_page 400 401 413 /error.html;

    location / {
        client_max_body_size 1k;
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }
--- raw_request eval
["POST /hook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
 . "Smile-Signature: " . ::sign('x') . "\r\n"
 . "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n",
 "800\r\n" . ('x' x 2048) . "\r\n0\r\n\r\n"]
--- raw_request_middle_delay: 0.2
--- error_code: 413
--- response_body eval
::error_page(413)
--- error_log eval
[qr/client intended to send too large chunked body/,
 qr/smile webhook: not sending the unverified request upstream for the error page "\/error\.html"/]
--- no_access_log eval
qr/seen /
--- no_error_log
[alert]
--- timeout: 5



=== TEST 9: a malformed chunk size in the second write, with error_page into the same enabled location: answered with nginx's 400
--- config
    access_log off;
    error_page 400 401 413 /error.html;

    location / {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }
--- raw_request eval
["POST /hook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
 . "Smile-Signature: " . ::sign('x') . "\r\n"
 . "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n",
 "zz\r\nxx\r\n0\r\n\r\n"]
--- raw_request_middle_delay: 0.2
--- error_code: 400
--- response_body eval
::error_page(400)
--- error_log eval
qr/client sent invalid chunked body/
--- no_access_log eval
qr/seen /
--- no_error_log
[alert]
--- timeout: 5



=== TEST 10: the same too large body, the enabled location serving static files: the error page is served (413)
--- config
    access_log off;
    error_page 400 401 413 /error.html;

    location / {
        client_max_body_size 1k;
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        root html;
    }
--- user_files
>>> error.html
our own error page
--- raw_request eval
["POST /hook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
 . "Smile-Signature: " . ::sign('x') . "\r\n"
 . "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n",
 "800\r\n" . ('x' x 2048) . "\r\n0\r\n\r\n"]
--- raw_request_middle_delay: 0.2
--- error_code: 413
--- response_body
our own error page
--- error_log
client intended to send too large chunked body
--- no_error_log
[alert]
--- timeout: 5



=== TEST 11: a forged request in an enabled location that serves static files: rejected with error_page's page (401)
--- config
    access_log off;
    error_page 401 /error.html;

    location / {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        root html;
    }
--- user_files
>>> error.html
our own error page
--- more_headers eval
::hdrs($::FORGED, ::sign($::FORGED, 'guess'))
--- request eval
::post($::FORGED)
--- error_code: 401
--- response_body
our own error page
--- error_log eval
qr/smile webhook rejected request: bad_signature/
--- no_error_log
[error]



=== TEST 12: a forged request whose error_page falls in the enabled location that forwards: nginx's own page (401), the app never asked for it
--- config
    access_log off;
    error_page 401 /error.html;

    location / {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }
--- more_headers eval
::hdrs($::FORGED, ::sign($::FORGED, 'guess'))
--- request eval
::post($::FORGED)
--- error_code: 401
--- response_body eval
::error_page(401)
--- error_log eval
[qr/smile webhook rejected request: bad_signature/,
 qr/smile webhook: not sending the unverified request upstream for the error page "\/error\.html"/]
--- no_access_log eval
qr/seen /
--- no_error_log
[error]



=== TEST 13: a forged request whose error_page is a location without the module: that page is served (401)
--- config
    access_log off;
    error_page 401 /errors/401.txt;

    location / {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://seen;
    }

    location /errors/ {
        internal;
        root html;
    }
--- user_files
>>> errors/401.txt
not signed by Smile
--- more_headers eval
::hdrs($::FORGED, ::sign($::FORGED, 'guess'))
--- request eval
::post($::FORGED)
--- error_code: 401
--- response_body
not signed by Smile
--- no_access_log eval
qr/seen /
--- no_error_log
[error]



=== TEST 14: an authentic event whose app fails, error_page into the same enabled location: the verified request fetches the app's error page
--- config
    access_log off;
    error_page 503 /error.html;

    location / {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_intercept_errors on;
        proxy_pass http://seen;
    }

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_intercept_errors on;
        proxy_pass http://seen/fail;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- error_code: 503
--- response_body
the app's error page
--- access_log eval
[qr/^seen POST \/fail id="\Q$::USERID\E"/m,
 qr/^seen GET \/error\.html id="\Q$::USERID\E"/m]
--- no_error_log
smile webhook rejected
smile webhook: not sending
[error]



=== TEST 15: try_files from a report location into an enabled named location with other secrets: checked again there, refused (401), never forwarded
The report location accepts the request (its secret signed it) and
try_files sends it on; the verdict of the report location does not carry
over.
--- config
    access_log off;

    location = /hook {
        smile_webhook report;
        smile_webhook_secret "another secret";
        smile_webhook_allow all;
        try_files /no-such-file @on;
    }

    location @on {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://seen;
    }
--- more_headers eval
::hdrs($::USER, ::sign($::USER, 'another secret'))
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- error_log eval
qr/smile webhook rejected request: bad_signature \(no configured secret matches the signature\), unverified event id "\Q$::USERID\E"/
--- no_access_log eval
qr/seen /
--- no_error_log
[error]



=== TEST 16: try_files from a report location into an enabled named location: an event signed with that location's secret is forwarded there, once
--- config
    access_log off;

    location = /hook {
        smile_webhook report;
        smile_webhook_secret "another secret";
        smile_webhook_allow all;
        try_files /no-such-file @on;
    }

    location @on {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://seen;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
--- response_body
seen /hook
--- access_log eval
qr/^seen POST \/hook id="\Q$::USERID\E" type="USER_CREATED"/m
--- error_log eval
qr/smile webhook would reject \(report mode\) request: bad_signature/
--- no_error_log
smile webhook rejected
[error]



=== TEST 17: smile_webhook_signature_header cannot name an X-Smile-* header (the app would never see it)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_signature_header X-Smile-Signature;
        proxy_pass http://seen;
    }
--- must_die
--- error_log eval
::conf_error('emerg', 'invalid header name "X-Smile-Signature" in "smile_webhook_signature_header" directive, X-Smile-* request headers are removed before the request goes upstream',
             'config', 4)



=== TEST 18: smile_webhook_signature_header: x_smile_sig is refused too (a CGI-style app reads it as X_SMILE_SIG)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_signature_header x_smile_sig;
        proxy_pass http://seen;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid header name "x_smile_sig" in "smile_webhook_signature_header" directive}



=== TEST 19: field values are judged and injected as they decode: an id written as \u escapes (180 bytes, 30 characters) and an escaped type
--- config
    access_log off;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Id $smile_event_id always;
        proxy_pass http://seen;
    }
--- more_headers eval
::hdrs($::ESCAPED)
--- request eval
::post($::ESCAPED)
--- response_headers eval
"X-Result: ok\nX-Id: " . ('A' x 30)
--- access_log eval
qr/^seen POST \/hook id="A{30}" type="USER_CREATED" user="u-1"/m
--- no_error_log
[error]



=== TEST 20: a secret file that starts with a UTF-8 byte order mark: nginx -t warns, and the mark is part of the first secret
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret_file $TEST_NGINX_HTML_DIR/secrets;
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://seen;
    }
--- user_files eval
">>> secrets\n\xef\xbb\xbfa little secret\n"
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- grep_error_log eval
qr/\[warn\] .*byte order mark.*/
--- grep_error_log_out eval
# logged once, when nginx starts (the second round runs on the same nginx)
[::conf_error('warn', qr{file "\S+/html/secrets" of the "smile_webhook_secret_file" directive starts with a UTF-8 byte order mark, which is taken as part of the first secret},
              'config', 3),
 ""]
--- no_error_log
[error]



=== TEST 21: with ignore_invalid_headers off, client headers that a CGI-style app reads as X_SMILE_* (X.Smile.User.Id, X_Smile_Event_Id, x-smile-) are removed; the event's own are added
The echo app prints the request head it received (nginx's variables cannot
name a header with dots).
--- http_config eval
$::ECHO_HTTP_CONFIG
--- config
    ignore_invalid_headers off;
    underscores_in_headers on;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://echo;
    }
--- more_headers eval
::hdrs($::USER, undef, "X.Smile.User.Id: forged-dots",
       "X_Smile_Event_Id: forged-underscores",
       "x-SMILE-event-type: forged-case", "X-Smile+Event: forged-plus")
--- request eval
::post($::USER)
--- response_body_like eval
qr/\A(?![\s\S]*forged)[\s\S]*^X-Smile-Event-Id: \Q$::USERID\E$/m
--- no_error_log
[error]
