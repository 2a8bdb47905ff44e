# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# Configuration: every mistake stops nginx at start-up with an [emerg]
# line naming the directive and nginx.conf:LINE; a complete configuration
# using every verification directive at every level it is allowed starts
# and works (the delivery directives: t/005-dedupe.t, t/006-policy.t);
# "smile_webhook off" in a nested location turns verification off there.
#
# Line numbers: conf_error() (t/lib/SmileApp.pm) names the line of the
# block's own "--- config" or "--- http_config" the message must point at;
# where that is in the nginx.conf the framework wrote is looked up in that
# file.  "--- must_die" needs
# TEST_NGINX_BINARY=tools/test-nginx-compat/nginx-errlog-wrapper with
# Debian's nginx (see tools/test-nginx-compat/README.md).  The app of TEST
# 22 and 23 is the echo app of t/lib/SmileApp.pm.

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest;
use SmileApp qw(conf_error planned_tests with_echo);

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Body = event_body('01_user_created.json');

sub signed {
    my ($body, $secret, $header) = @_;
    $header ||= 'Smile-Signature';
    return "$header: " . sign($body, $secret) . "\n"
           . "Content-Length: " . length($body) . "\n";
}

add_block_preprocessor(\&with_echo);

repeat_each(2);
no_long_string();

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: smile_webhook on without any secret: the error names the smile_webhook line
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_allow all;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook" is enabled but no "smile_webhook_secret" or "smile_webhook_secret_file" is configured}, 'config', 2)



=== TEST 2: smile_webhook report without a secret, a secret only in a sibling location: the error names the report line
--- config
    location = /with-secret {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        return 204;
    }

    location = /without {
        return 204;
        smile_webhook report;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook" is enabled but no "smile_webhook_secret" or "smile_webhook_secret_file" is configured}, 'config', 9)



=== TEST 3: an empty secret at http level
--- http_config
    smile_webhook_log_level warn;
    smile_webhook_secret "";
--- config
    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{empty secret in "smile_webhook_secret" directive}, 'http_config', 2)



=== TEST 4: a misspelt name= parameter at server level
--- config
    smile_webhook_secret "a little secret" nam=old;

    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid parameter "nam=old" in "smile_webhook_secret" directive, expected "name=ID"}, 'config', 1)



=== TEST 5: an empty name= parameter in a location
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret" name=;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid parameter "name=" in "smile_webhook_secret" directive, expected "name=ID"}, 'config', 3)



=== TEST 6: a secret file that does not exist
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret_file $TEST_NGINX_HTML_DIR/no-such-file;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{open\(\) "\S+/html/no-such-file" failed \(2: No such file or directory\)}, 'config', 3)



=== TEST 7: a secret file that cannot be read (a directory)
--- config
    smile_webhook_secret_file $TEST_NGINX_HTML_DIR;

    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
[qr{\[crit\] .*pread\(\) "\S+/html" failed \(21: Is a directory\)$},
 ::conf_error('emerg', qr{pread\(\) "\S+/html" failed \(21: Is a directory\)}, 'config', 1)]



=== TEST 8: a secret file with only comments and empty (CRLF) lines holds no secret
--- http_config
    smile_webhook_secret_file $TEST_NGINX_HTML_DIR/secrets;
--- config
    location = /hook {
        return 204;
    }
--- user_files eval
[[ "secrets" => "# Smile webhook secrets\r\n\r\n\n# none yet\r\n\r\n" ]]
--- must_die
--- error_log eval
::conf_error('emerg', qr{file "\S+/html/secrets" of the "smile_webhook_secret_file" directive holds no secret}, 'http_config', 1)



=== TEST 9: an empty secret file holds no secret
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret_file $TEST_NGINX_HTML_DIR/secrets;
        return 204;
    }
--- user_files eval
[[ "secrets" => "" ]]
--- must_die
--- error_log eval
::conf_error('emerg', qr{file "\S+/html/secrets" of the "smile_webhook_secret_file" directive holds no secret}, 'config', 3)



=== TEST 10: an IPv4 prefix longer than 32 bits
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 18.142.61.230;
        smile_webhook_allow 10.0.0.0/33;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid address or CIDR "10\.0\.0\.0/33" in "smile_webhook_allow" directive}, 'config', 5)



=== TEST 11: an IPv6 prefix longer than 128 bits, at http level
--- http_config
    smile_webhook_allow 2001:db8::/129;
--- config
    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid address or CIDR "2001:db8::/129" in "smile_webhook_allow" directive}, 'http_config', 1)



=== TEST 12: a host name is not an address
--- config
    smile_webhook_allow hooks.smile.io;

    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid address or CIDR "hooks\.smile\.io" in "smile_webhook_allow" directive}, 'config', 1)



=== TEST 13: a signature header name with a blank
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_signature_header "Smile Signature";
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid header name "Smile Signature" in "smile_webhook_signature_header" directive}, 'config', 4)



=== TEST 14: a signature header name with a colon, at http level
--- http_config
    smile_webhook_signature_header "Smile-Signature:";
--- config
    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid header name "Smile-Signature:" in "smile_webhook_signature_header" directive}, 'http_config', 1)



=== TEST 15: smile_webhook_signature_header twice at the same level
--- config
    smile_webhook_signature_header Smile-Signature;
    smile_webhook_signature_header X-Other-Sig;

    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_signature_header" directive is duplicate}, 'config', 2)



=== TEST 16: smile_webhook with a value other than on, off, report: the error names the directive
--- config
    location = /hook {
        smile_webhook_secret "a little secret";
        smile_webhook yes;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{(?=.*"smile_webhook"[^_])(?=.*"yes").*}, 'config', 3)



=== TEST 17: smile_webhook_log_level with an unknown level: the error names the directive
--- config
    smile_webhook_log_level loud;

    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{(?=.*"smile_webhook_log_level")(?=.*"loud").*}, 'config', 1)



=== TEST 18: smile_webhook twice in one location
--- config
    location = /hook {
        smile_webhook_secret "a little secret";
        smile_webhook on;
        smile_webhook report;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook" directive is duplicate}, 'config', 4)



=== TEST 19: smile_webhook at server level is rejected
--- config
    smile_webhook_secret "a little secret";
    smile_webhook on;

    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook" directive is not allowed here}, 'config', 2)



=== TEST 20: smile_webhook at http level is rejected
--- http_config
    smile_webhook_secret "a little secret";
    smile_webhook on;
--- config
    location = /hook {
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook" directive is not allowed here}, 'http_config', 2)



=== TEST 21: smile_webhook_secret with too many parameters
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret" name=a name=b;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid number of arguments in "smile_webhook_secret" directive}, 'config', 3)



=== TEST 22: every verification directive at every level it is allowed: nginx starts, each location uses its own level's settings
--- http_config
    smile_webhook_secret "http secret" name=http;
    smile_webhook_secret_file $TEST_NGINX_HTML_DIR/http-secrets;
    smile_webhook_allow 10.0.0.0/8;
    smile_webhook_allow ::1;
    smile_webhook_signature_header X-Http-Sig;
    smile_webhook_log_level notice;
--- config
    smile_webhook_secret "server secret" name=server;
    smile_webhook_secret_file $TEST_NGINX_HTML_DIR/server-secrets;
    smile_webhook_allow 127.0.0.0/8;
    smile_webhook_allow 2001:db8::/32;
    smile_webhook_signature_header X-Server-Sig;
    smile_webhook_log_level info;

    location = /server-level {
        smile_webhook on;
        add_header X-Key $smile_webhook_key always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }

    location = /location-level {
        smile_webhook on;
        smile_webhook_secret "location secret" name=location;
        smile_webhook_secret_file $TEST_NGINX_HTML_DIR/location-secrets;
        smile_webhook_allow 127.0.0.1;
        smile_webhook_allow all;
        smile_webhook_signature_header X-Location-Sig;
        smile_webhook_log_level error;
        add_header X-Key $smile_webhook_key always;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;
    }
--- user_files
>>> http-secrets
http file secret
>>> server-secrets
server file secret
>>> location-secrets
location file secret
--- request eval
["POST /server-level\n$::Body", "POST /server-level\n$::Body",
 "POST /location-level\n$::Body", "POST /location-level\n$::Body",
 "POST /location-level\n$::Body"]
--- more_headers eval
[::signed($::Body, "server file secret", "X-Server-Sig"),
 ::signed($::Body, "http secret", "X-Server-Sig"),
 ::signed($::Body, "location secret", "X-Location-Sig"),
 ::signed($::Body, "location file secret", "X-Location-Sig"),
 ::signed($::Body, "location secret", "X-Server-Sig")]
--- error_code eval
[200, 401, 200, 200, 401]
--- response_headers eval
["X-Key: line1\nX-Result: ok",
 "!X-Key\nX-Result: bad_signature",
 "X-Key: location\nX-Result: ok",
 "X-Key: line1\nX-Result: ok",
 "!X-Key\nX-Result: missing_signature"]
--- response_body_like eval
["(?m)^X-Smile-Event-Type: USER_CREATED\$", "401 Authorization Required",
 "(?m)^X-Smile-Event-Type: USER_CREATED\$",
 "(?m)^X-Smile-Event-Type: USER_CREATED\$", "401 Authorization Required"]
--- no_error_log
[emerg]
[alert]



=== TEST 23: smile_webhook off in a nested location turns verification off there; another nested location inherits on
--- config
    location /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://echo;

        location /hook/open {
            smile_webhook off;
            add_header X-Result "$smile_webhook_result" always;
            proxy_pass http://echo;
        }

        location /hook/nested {
            add_header X-Result $smile_webhook_result always;
            proxy_pass http://echo;
        }
    }
--- request eval
["POST /hook/open\nnot an event", "POST /hook/nested\nnot an event",
 "POST /hook/nested\n$::Body"]
--- more_headers eval
["", "", ::signed($::Body)]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["!X-Result", "X-Result: missing_signature", "X-Result: ok"]
--- response_body_like eval
["\\APOST /hook/open\n(?:(?!X-Smile-)[^\n]+\n)+\nnot an event\\z",
 "401 Authorization Required",
 "(?ms)^X-Smile-Event-Type: USER_CREATED\$.*\n\n\\{"]
--- no_error_log
[alert]



=== TEST 24: an allow CIDR with host bits set only warns, and the network is used
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1/8;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/app;
    }

    location = /app {
        return 200 "app\n";
    }
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body)
--- response_headers
X-Result: ok
--- response_body
app
--- grep_error_log eval
qr/\[warn\] .*low address bits.*/
--- grep_error_log_out eval
# logged once, when nginx starts (the second round runs on the same nginx)
[::conf_error('warn', 'low address bits of 127.0.0.1/8 are meaningless',
              'config', 4),
 ""]
--- no_error_log
[emerg]
[alert]



=== TEST 25: a relative smile_webhook_secret_file path is resolved against the directory of nginx.conf, like ssl_certificate
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret_file ../html/secrets;
        smile_webhook_allow 127.0.0.1;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/app;
    }

    location = /app {
        return 200 "app\n";
    }
--- user_files
>>> secrets
a little secret
--- request eval
"POST /hook\n$::Body"
--- more_headers eval
::signed($::Body)
--- response_headers
X-Key: line1
--- response_body
app
--- no_error_log
[emerg]
[alert]
