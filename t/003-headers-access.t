# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# What the app behind proxy_pass receives (X-Smile-* headers stripped and
# injected, everything else untouched), and who may talk to it: address
# allowlist with realip and IPv6, access modules that must not bypass the
# check, keepalive after a rejection, secret rotation and secret files,
# list inheritance, report mode, error_page, the signature header name,
# the log level and the variables.
#
# The app is the echo app of t/lib/SmileApp.pm ("proxy_pass http://echo",
# added to every block's http_config): it answers with the request line,
# the header lines exactly as the proxy sent them, in order (CRLF turned
# into LF; without Connection, whose value is the proxy's default and
# differs between nginx versions), and the body.  The IPv6 and dual-stack
# front servers listen on $TEST_NGINX_RAND_PORT_2.

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest;
use SmileApp qw(planned_tests with_echo);

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# USER_CREATED from the seed document: id, type, createdAt, data.userId
our $Body = event_body('01_user_created.json');
our $Sig  = sign($Body);
our $Len  = length $Body;

# ACCOUNT_CONNECTED: has data.accountId as well
our $Acct = event_body('03_account_connected.json');

# the headers the module injects for $Body, in this order
our $Injected = "X-Smile-Event-Id: et-123abc456def789abc123def456abc78\n"
              . "X-Smile-Event-Type: USER_CREATED\n"
              . "X-Smile-Event-Created-At: 2021-04-14T09:30:24Z\n"
              . "X-Smile-User-Id: tenantId-123abc456def789abc123def456abc78\n";

# "Smile-Signature" and an explicit Content-Length (the body is then sent
# byte for byte, trailing newline included)
sub signed {
    my ($body, $secret, $header) = @_;
    $header ||= 'Smile-Signature';
    return "$header: " . sign($body, $secret) . "\n"
           . "Content-Length: " . length($body) . "\n";
}

# what the app answers for a request proxied with "proxy_set_header Host
# $http_host" (so Host stays the client's): request line, Host,
# Content-Length, then the client's other headers in order
sub app_view {
    my ($uri, $headers, $body) = @_;
    return "POST $uri\nHost: localhost\n"
           . "Content-Length: " . length($body) . "\n$headers\n$body";
}

add_block_preprocessor(\&with_echo);

repeat_each(2);
no_long_string();

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: spoofed X-Smile-* headers are stripped and the real ones injected once; everything else arrives unchanged and in place
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"X-Smile-Event-Id: forged-id\n"
. "Content-Type: application/json\n"
. "x-smile-event-type: USER_DELETED\n"
. "X-Custom: keep me\n"
. "X-SMILE-EVENT-ID: forged-again\n"
. "x-Smile-User-Id: someone-else\n"
. "User-Agent: Smile-Webhooks/1.0\n"
. "X-Smile-Event-Created-At: 2099-01-01T00:00:00Z\n"
. ::signed($::Body)
. "X-Smile-Anything: whatever\n"
--- response_body eval
::app_view("/hook",
           "Content-Type: application/json\n"
           . "X-Custom: keep me\n"
           . "User-Agent: Smile-Webhooks/1.0\n"
           . "Smile-Signature: $::Sig\n"
           . $::Injected,
           $::Body)
--- no_error_log
[error]
[alert]



=== TEST 1b: with underscores_in_headers on, X_Smile_* spellings are stripped too (apps fold "_" into "-")
--- http_config
    underscores_in_headers on;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"X_Smile_Event_Id: forged-id\n"
. "x_smile-event-type: USER_DELETED\n"
. "X_Custom: keep me\n"
. ::signed($::Body)
--- response_body eval
::app_view("/hook",
           "X_Custom: keep me\n"
           . "Smile-Signature: $::Sig\n"
           . $::Injected,
           $::Body)
--- no_error_log
[error]
[alert]



=== TEST 2: more headers than one header list part holds: X-Smile-* first (before Host), in the middle and last are stripped; look-alikes stay
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"X-Smile-First: 1\n"
. "Connection: close\n"
. "Host: localhost\n"
. CORE::join('', map { "X-Filler-$_: $_\n" } 1 .. 9)
. "x-smile-event-id: forged\n"
. "X-Smile: no dash, kept\n"
. "X-Smiley-Face: kept\n"
. "Smile-Event-Id: kept\n"
. "X-Smilex-Id: kept\n"
. CORE::join('', map { "X-Filler-$_: $_\n" } 10 .. 19)
. "X-Smile-Event-Type: FORGED_A\n"
. "X-Smile-Event-Type: FORGED_B\n"
. CORE::join('', map { "X-Filler-$_: $_\n" } 20 .. 29)
. ::signed($::Body)
. "X-SMILE-LAST: 1\n"
--- response_body eval
::app_view("/hook",
           CORE::join('', map { "X-Filler-$_: $_\n" } 1 .. 9)
           . "X-Smile: no dash, kept\n"
           . "X-Smiley-Face: kept\n"
           . "Smile-Event-Id: kept\n"
           . "X-Smilex-Id: kept\n"
           . CORE::join('', map { "X-Filler-$_: $_\n" } 10 .. 29)
           . "Smile-Signature: $::Sig\n"
           . $::Injected,
           $::Body)
--- no_error_log
[error]
[alert]



=== TEST 3: the same valid Smile-Signature twice, or twice in different case: 401 malformed_signature, nothing proxied
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
["Smile-Signature: $::Sig\n" . ::signed($::Body),
 "smile-signature: $::Sig\n" . ::signed($::Body)]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Result: malformed_signature", "X-Result: malformed_signature"]
--- response_body_like eval
[qr/401 Authorization Required/, qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 4: satisfy any with "allow all" and auth_basic: a forged request is still 401 (the module's, no auth challenge)
--- config
    location = /hook {
        satisfy any;
        allow all;
        auth_basic "webhooks";
        auth_basic_user_file $TEST_NGINX_HTML_DIR/htpasswd;

        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://echo;
    }
--- user_files
>>> htpasswd
user:{PLAIN}password
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body, "not the secret")
--- error_code: 401
--- response_headers
!WWW-Authenticate
--- response_body_like: 401 Authorization Required
--- error_log eval
qr/\[warn\] .*smile webhook rejected request: bad_signature /
--- no_error_log
[alert]



=== TEST 5: satisfy any with "allow all" and auth_basic: unsigned is 401 missing_signature, authentic passes without credentials
--- config
    location = /hook {
        satisfy any;
        allow all;
        auth_basic "webhooks";
        auth_basic_user_file $TEST_NGINX_HTML_DIR/htpasswd;

        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- user_files
>>> htpasswd
user:{PLAIN}password
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
["Content-Length: $::Len\n", ::signed($::Body)]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Result: missing_signature\n!WWW-Authenticate",
 "X-Result: ok"]
--- response_body_like eval
[qr/401 Authorization Required/, qr/^X-Smile-Event-Type: USER_CREATED$/m]
--- no_error_log
[alert]



=== TEST 6: Expect: 100-continue from an address not in the allowlist: 401 at once, no "100 Continue", body never asked for
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        lingering_timeout 100ms;
        proxy_pass http://echo;
    }
--- raw_request eval
"POST /hook HTTP/1.1\r
Host: localhost\r
Content-Type: application/json\r
Content-Length: $::Len\r
Expect: 100-continue\r
Smile-Signature: $::Sig\r
Connection: close\r
\r
"
--- error_code: 401
--- raw_response_headers_like: ^HTTP/1.1 401
--- raw_response_headers_unlike: 100 Continue
--- error_log
smile webhook rejected request: ip_denied (client address is not in smile_webhook_allow)
--- no_error_log
[alert]



=== TEST 7: Expect: 100-continue with a malformed signature from an allowed address: 401 at once, no "100 Continue"
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        lingering_timeout 100ms;
        proxy_pass http://echo;
    }
--- raw_request eval
"POST /hook HTTP/1.1\r
Host: localhost\r
Content-Length: $::Len\r
Expect: 100-continue\r
Smile-Signature: " . substr($::Sig, 1) . "\r
Connection: close\r
\r
"
--- error_code: 401
--- raw_response_headers_like: ^HTTP/1.1 401
--- raw_response_headers_unlike: 100 Continue
--- error_log
smile webhook rejected request: malformed_signature
--- no_error_log
[alert]



=== TEST 8: keepalive after a rejection: a forged request (body read) then an authentic one on the same connection
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- pipelined_requests eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, "not the secret"), ::signed($::Body)]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Result: bad_signature\nConnection: keep-alive",
 "X-Result: ok\nConnection: close"]
--- response_body_like eval
[qr/401 Authorization Required/,
 qr/\A\QPOST \/hook\E\n.*^\QSmile-Signature: $::Sig\E\n\Q$::Injected\E\n\Q$::Body\E\z/ms]
--- no_error_log
[alert]



=== TEST 9: keepalive after a rejection: an unsigned request (body discarded unread) then an authentic one on the same connection
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- pipelined_requests eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
["Content-Length: $::Len\n", ::signed($::Body)]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Result: missing_signature\nConnection: keep-alive",
 "X-Result: ok\nConnection: close"]
--- response_body_like eval
[qr/401 Authorization Required/,
 qr/\A\QPOST \/hook\E\n.*^\QSmile-Signature: $::Sig\E\n\Q$::Injected\E\n\Q$::Body\E\z/ms]
--- no_error_log
[alert]



=== TEST 10: IPv6 client ::1 with "smile_webhook_allow ::1": allowed
--- http_config
    server {
        listen [::1]:$TEST_NGINX_RAND_PORT_2;

        location = /hook {
            smile_webhook on;
            smile_webhook_secret "a little secret";
            smile_webhook_allow ::1;
            add_header X-Seen-As $remote_addr always;
            add_header X-Result $smile_webhook_result always;
            proxy_set_header Host $http_host;
            proxy_pass http://echo;
        }
    }
--- config
    location = /v6 {
        proxy_set_header Host $http_host;
        proxy_pass http://[::1]:$TEST_NGINX_RAND_PORT_2/hook;
    }
--- request eval
"POST /v6\n$::Body"
--- more_headers eval
::signed($::Body)
--- response_headers
X-Seen-As: ::1
X-Result: ok
--- response_body eval
"POST /hook\nHost: localhost\n"
. "Content-Length: $::Len\nSmile-Signature: $::Sig\n$::Injected\n$::Body"
--- no_error_log
[alert]



=== TEST 11: IPv6 client ::1 with only "smile_webhook_allow 127.0.0.1": 401 ip_denied
--- http_config
    server {
        listen [::1]:$TEST_NGINX_RAND_PORT_2;

        location = /hook {
            smile_webhook on;
            smile_webhook_secret "a little secret";
            smile_webhook_allow 127.0.0.1;
            add_header X-Seen-As $remote_addr always;
            add_header X-Result $smile_webhook_result always;
            proxy_pass http://echo;
        }
    }
--- config
    location = /v6 {
        proxy_pass http://[::1]:$TEST_NGINX_RAND_PORT_2/hook;
    }
--- request eval
"POST /v6\n$::Body"
--- more_headers eval
::signed($::Body)
--- error_code: 401
--- response_headers
X-Seen-As: ::1
X-Result: ip_denied
--- error_log
smile webhook rejected request: ip_denied
--- no_error_log
[alert]



=== TEST 12: realip with an IPv6 X-Forwarded-For: 2001:db8::5 is in 2001:db8::/32, 2001:db9::5 is not
--- config
    location = /hook {
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;

        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 2001:db8::/32;
        add_header X-Seen-As $remote_addr always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
["X-Forwarded-For: 2001:db8::5\n" . ::signed($::Body),
 "X-Forwarded-For: 2001:db9::5\n" . ::signed($::Body)]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Seen-As: 2001:db8::5\nX-Result: ok",
 "X-Seen-As: 2001:db9::5\nX-Result: ip_denied"]
--- response_body_like eval
[qr/^X-Smile-Event-Id: et-123abc456def789abc123def456abc78$/m,
 qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 13: realip with an IPv4 X-Forwarded-For and the default allowlist: 18.142.61.230 (Smile) allowed, 18.142.61.231 not
--- config
    location = /hook {
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;

        smile_webhook on;
        smile_webhook_secret "a little secret";
        add_header X-Seen-As $remote_addr always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
["X-Forwarded-For: 18.142.61.230\n" . ::signed($::Body),
 "X-Forwarded-For: 18.142.61.231\n" . ::signed($::Body)]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Seen-As: 18.142.61.230\nX-Result: ok",
 "X-Seen-As: 18.142.61.231\nX-Result: ip_denied"]
--- response_body_like eval
[qr/^X-Smile-Event-Type: USER_CREATED$/m, qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 14: without realip an X-Forwarded-For naming Smile's address is not trusted: 401 ip_denied
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"X-Forwarded-For: 18.142.61.230\nX-Real-IP: 18.142.61.230\n" . ::signed($::Body)
--- error_code: 401
--- response_headers
X-Result: ip_denied
--- error_log
smile webhook rejected request: ip_denied
--- no_error_log
[alert]



=== TEST 15: "smile_webhook_allow all" lets any address in, but the signature is still checked
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow all;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body), ::signed($::Body, "not the secret")]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: ok", "X-Result: bad_signature"]
--- response_body_like eval
[qr/^X-Smile-Event-Type: USER_CREATED$/m, qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 16: several smile_webhook_allow lines (IPv4, IPv6, CIDR): one match is enough
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 18.142.61.230;
        smile_webhook_allow 2001:db8::/32;
        smile_webhook_allow 10.0.0.0/8;
        smile_webhook_allow 127.0.0.0/8;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body)
--- response_headers
X-Result: ok
--- response_body_like eval
qr/^X-Smile-Event-Type: USER_CREATED$/m
--- no_error_log
[warn]
[alert]



=== TEST 17: secret rotation: a body signed with the old or the new secret passes and $smile_webhook_key names it; a third secret is 401
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "the old secret" name=old;
        smile_webhook_secret "the new secret" name=new;
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, "the old secret"),
 ::signed($::Body, "the new secret"),
 ::signed($::Body, "a third secret")]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Key: old\nX-Result: ok",
 "X-Key: new\nX-Result: ok",
 "!X-Key\nX-Result: bad_signature"]
--- response_body_like eval
[qr/^X-Smile-Event-Type: USER_CREATED$/m,
 qr/^X-Smile-Event-Type: USER_CREATED$/m,
 qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 18: inline secrets without name= are called secretN after their place in the list
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "first secret";
        smile_webhook_secret "second secret" name=named;
        smile_webhook_secret "third secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, "first secret"),
 ::signed($::Body, "second secret"),
 ::signed($::Body, "third secret")]
--- response_headers eval
["X-Key: secret1", "X-Key: named", "X-Key: secret3"]
--- response_body_like eval
[qr/^X-Smile-Event-Type: USER_CREATED$/m,
 qr/^X-Smile-Event-Type: USER_CREATED$/m,
 qr/^X-Smile-Event-Type: USER_CREATED$/m]
--- no_error_log
[alert]



=== TEST 19: secret file with comments, empty lines, CRLF line ends and no final newline: secrets named lineN; comments, CRs and blanks are no secrets
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret_file $TEST_NGINX_HTML_DIR/secrets;
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- user_files eval
[[ "secrets" => "# Smile webhook secrets, newest first\r\n"
               . "\r\n"
               . "new secret\r\n"
               . "\r\n"
               . "# old secret, until the rotation is done\r\n"
               . "old secret" ]]
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body", "POST /hook\n$::Body",
 "POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, "new secret"),
 ::signed($::Body, "old secret"),
 ::signed($::Body, "new secret\r"),
 ::signed($::Body, "# old secret, until the rotation is done"),
 ::signed($::Body, "")]
--- error_code eval
[200, 200, 401, 401, 401]
--- response_headers eval
["X-Key: line3\nX-Result: ok",
 "X-Key: line6\nX-Result: ok",
 "!X-Key\nX-Result: bad_signature",
 "!X-Key\nX-Result: bad_signature",
 "!X-Key\nX-Result: bad_signature"]
--- response_body_like eval
[qr/^X-Smile-Event-Type: USER_CREATED$/m,
 qr/^X-Smile-Event-Type: USER_CREATED$/m,
 qr/401 Authorization Required/,
 qr/401 Authorization Required/,
 qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 20: an http-level secret is used by a location that has none
--- http_config
    smile_webhook_secret "http secret" name=from-http;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body, "http secret")
--- response_headers
X-Key: from-http
--- response_body_like eval
qr/^X-Smile-Event-Type: USER_CREATED$/m
--- no_error_log
[alert]



=== TEST 21: a location with its own secret replaces the http-level list: the http secret is no longer accepted
--- http_config
    smile_webhook_secret "http secret" name=from-http;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "location secret" name=from-location;
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, "http secret"), ::signed($::Body, "location secret")]
--- error_code eval
[401, 200]
--- response_headers eval
["!X-Key\nX-Result: bad_signature", "X-Key: from-location\nX-Result: ok"]
--- response_body_like eval
[qr/401 Authorization Required/, qr/^X-Smile-Event-Type: USER_CREATED$/m]
--- no_error_log
[alert]



=== TEST 22: a server-level list replaces the http-level one and is inherited by a location without secrets
--- http_config
    smile_webhook_secret "http secret" name=from-http;
--- config
    smile_webhook_secret "server secret" name=from-server;

    location = /hook {
        smile_webhook on;
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, "http secret"), ::signed($::Body, "server secret")]
--- error_code eval
[401, 200]
--- response_headers eval
["!X-Key\nX-Result: bad_signature", "X-Key: from-server\nX-Result: ok"]
--- response_body_like eval
[qr/401 Authorization Required/, qr/^X-Smile-Event-Type: USER_CREATED$/m]
--- no_error_log
[alert]



=== TEST 23: the allowlist is inherited whole too: a location with its own smile_webhook_allow drops the server's 127.0.0.1
--- config
    smile_webhook_secret "a little secret";
    smile_webhook_allow 127.0.0.1;

    location = /inherits {
        smile_webhook on;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }

    location = /replaces {
        smile_webhook on;
        smile_webhook_allow 10.0.0.0/8;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /inherits\n$::Body", "POST /replaces\n$::Body"]
--- more_headers eval
[::signed($::Body), ::signed($::Body)]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: ok", "X-Result: ip_denied"]
--- response_body_like eval
[qr/^X-Smile-Event-Type: USER_CREATED$/m, qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 24: report mode: a forged request is forwarded with X-Smile-Webhook-Result: bad_signature, no event headers, spoofed ones stripped
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"X-Smile-Webhook-Result: ok\n"
. "X-Smile-Event-Id: forged\n"
. "X-Custom: keep me\n"
. ::signed($::Body, "not the secret")
--- response_body eval
::app_view("/hook",
           "X-Custom: keep me\n"
           . "Smile-Signature: " . SmileTest::sign($::Body, "not the secret") . "\n"
           . "X-Smile-Webhook-Result: bad_signature\n",
           $::Body)
--- error_log eval
qr/\[warn\] .*smile webhook would reject \(report mode\) request: bad_signature /
--- no_error_log
[alert]



=== TEST 25: report mode: an authentic request is forwarded with the event headers and X-Smile-Webhook-Result: ok, and not logged
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"X-Smile-Webhook-Result: bad_signature\n" . ::signed($::Body)
--- response_body eval
::app_view("/hook",
           "Smile-Signature: $::Sig\n"
           . $::Injected
           . "X-Smile-Webhook-Result: ok\n",
           $::Body)
--- no_error_log
smile webhook rejected
smile webhook would reject
[alert]



=== TEST 26: report mode: an unsigned request is forwarded with X-Smile-Webhook-Result: missing_signature
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"Content-Length: $::Len\n"
--- response_body eval
::app_view("/hook", "X-Smile-Webhook-Result: missing_signature\n", $::Body)
--- error_log
smile webhook would reject (report mode) request: missing_signature (no signature header)
--- no_error_log
[alert]



=== TEST 27: report mode: a denied address and a GET are forwarded too, with ip_denied and method_not_allowed
--- config
    location = /denied {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        proxy_pass http://echo;
    }

    location = /get {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://echo;
    }
--- request eval
["POST /denied\n$::Body", "GET /get"]
--- more_headers eval
[::signed($::Body), ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/\A\QPOST \/denied\E\n.*^X-Smile-Webhook-Result: ip_denied\n\n\Q$::Body\E\z/ms,
 qr/\AGET \/get\n.*^X-Smile-Webhook-Result: method_not_allowed\n\n\z/ms]
--- no_error_log
[alert]



=== TEST 28: error_page to a named location still knows the verdict after the internal redirect
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret" name=current;
        smile_webhook_allow 127.0.0.1;
        error_page 400 401 @rejected;
        proxy_pass http://echo;
    }

    location @rejected {
        return 200 "rejected: $smile_webhook_result key=$smile_webhook_key type=$smile_event_type\n";
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body", "POST /hook\n{\"id\":\"x\"}\n"]
--- more_headers eval
[::signed($::Body, "not the secret"),
 "Content-Length: $::Len\n",
 ::signed("{\"id\":\"x\"}\n")]
--- error_code eval
[401, 401, 400]
--- response_body eval
["rejected: bad_signature key= type=\n",
 "rejected: missing_signature key= type=\n",
 "rejected: malformed_event key=current type=\n"]
--- no_error_log
[alert]



=== TEST 29: smile_webhook_signature_header X-Other-Sig: the signature is read from there and still forwarded; Smile-Signature alone is missing_signature
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_signature_header X-Other-Sig;
        add_header X-Result $smile_webhook_result always;
        proxy_set_header Host $http_host;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
[::signed($::Body, undef, "x-other-sig"), ::signed($::Body)]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: ok", "X-Result: missing_signature"]
--- response_body_like eval
[do { my $v = ::app_view("/hook", "x-other-sig: $::Sig\n$::Injected", $::Body);
      qr/\A\Q$v\E\z/ },
 qr/401 Authorization Required/]
--- no_error_log
[alert]



=== TEST 30: smile_webhook_log_level error: the rejection is logged at [error], not at [warn]
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_log_level error;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body, "not the secret")
--- error_code: 401
--- error_log eval
qr/\[error\] .*smile webhook rejected request: bad_signature \(no configured secret matches the signature\), unverified event id "et-123abc456def789abc123def456abc78"/
--- no_error_log eval
[qr/\[warn\] .*smile webhook/, qr/\[alert\]/]



=== TEST 31: smile_webhook_log_level info set at http level is inherited: the rejection is logged at [info]
--- http_config
    smile_webhook_log_level info;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
"Content-Length: $::Len\n"
--- error_code: 401
--- error_log eval
qr/\[info\] .*smile webhook rejected request: missing_signature \(no signature header\)/
--- no_error_log eval
[qr/\[(?:warn|notice|error)\] .*smile webhook/, qr/\[alert\]/]



=== TEST 32: the default log level is warn, and the line holds neither the signature nor the secret nor the body
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body, "not the secret")
--- error_code: 401
--- error_log eval
qr/\[warn\] .*smile webhook rejected request: bad_signature /
--- no_error_log eval
[qr/smile webhook.*\Q${\ SmileTest::sign($::Body, "not the secret")}\E/,
 $::Sig,
 "a little secret",
 qr/smile webhook.*tenantId/,
 qr/\[alert\]/]



=== TEST 33: the variables in log_format and add_header
--- http_config
    log_format smile '$request_uri $status result=$smile_webhook_result key=$smile_webhook_key '
                     'id=$smile_event_id type=$smile_event_type version=$smile_event_version '
                     'created=$smile_event_created_at user=$smile_user_id '
                     'account=$smile_account_id';
--- config
    location = /hook {
        access_log logs/access.log smile;

        smile_webhook on;
        smile_webhook_secret "a little secret" name=main;
        smile_webhook_allow 127.0.0.1;

        add_header X-Result $smile_webhook_result always;
        add_header X-Key $smile_webhook_key always;
        add_header X-Event-Id $smile_event_id always;
        add_header X-Event-Type $smile_event_type always;
        add_header X-Event-Version $smile_event_version always;
        add_header X-Created-At $smile_event_created_at always;
        add_header X-User-Id $smile_user_id always;
        add_header X-Account-Id $smile_account_id always;
        proxy_pass http://echo;
    }
--- request eval
"POST /hook\n$::Acct"
--- more_headers eval
::signed($::Acct)
--- response_headers
X-Result: ok
X-Key: main
X-Event-Id: et-123abc456def789abc123def456abc78
X-Event-Type: ACCOUNT_CONNECTED
X-Event-Version: 1
X-Created-At: 2021-04-14T09:30:24Z
X-User-Id: tenantId-123abc456def789abc123def456abc78
X-Account-Id: a-123abc456def789abc123def456abc78
--- response_body_like eval
qr/^X-Smile-Event-Type: ACCOUNT_CONNECTED$/m
--- access_log
/hook 200 result=ok key=main id=et-123abc456def789abc123def456abc78 type=ACCOUNT_CONNECTED version=1 created=2021-04-14T09:30:24Z user=tenantId-123abc456def789abc123def456abc78 account=a-123abc456def789abc123def456abc78
--- no_error_log
[alert]



=== TEST 34: an IPv4 client on a dual-stack listener (::ffff:127.0.0.1) matches "smile_webhook_allow 127.0.0.1"
--- http_config
    server {
        listen [::]:$TEST_NGINX_RAND_PORT_2 ipv6only=off;

        location = /hook {
            smile_webhook on;
            smile_webhook_secret "a little secret";
            smile_webhook_allow 127.0.0.1;
            add_header X-Seen-As $remote_addr always;
            add_header X-Result $smile_webhook_result always;
            proxy_pass http://echo;
        }
    }
--- config
    location = /mapped {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/hook;
    }
--- request eval
"POST /mapped\n$::Body"
--- more_headers eval
::signed($::Body)
--- response_headers
X-Seen-As: ::ffff:127.0.0.1
X-Result: ok
--- response_body_like eval
qr/^X-Smile-Event-Type: USER_CREATED$/m
--- no_error_log
[alert]



=== TEST 35: try_files to a named location without smile_webhook cannot skip the check
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        try_files /no-such-file @app;
    }

    location @app {
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- request eval
["POST /hook\n$::Body", "POST /hook\n$::Body"]
--- more_headers eval
["X-Smile-Event-Type: FORGED\nContent-Length: $::Len\n",
 "X-Smile-Event-Type: FORGED\n" . ::signed($::Body)]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Result: missing_signature", "X-Result: ok"]
--- response_body_like eval
[qr/401 Authorization Required/,
 qr/\A(?!.*FORGED).*^X-Smile-Event-Type: USER_CREATED$/ms]
--- no_error_log
[alert]
