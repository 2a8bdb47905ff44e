# Every outcome of a location with "smile_webhook on": its status, the
# $smile_webhook_result value, the rejection log line, and proof that a
# rejected request never reaches the app.  Error answers and log lines never
# carry the secret, a signature or the body.
#
# The app behind proxy_pass and the request/expectation helpers are in
# t/lib/SmileApp.pm.

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest;
use SmileApp;

repeat_each(2);
no_shuffle();
no_long_string();

our $USER    = event_body('01_user_created.json');
our $ACCOUNT = event_body('02_account_created.json');
our $INSIGHT = event_body('24_insight_added.json');

our $USER_ID = 'et-123abc456def789abc123def456abc78';
our $TENANT  = 'tenantId-123abc456def789abc123def456abc78';

add_block_preprocessor(\&with_app);

# a chunked body, in chunks of $size bytes
sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $chunk = substr $body, $i, $size;
        $out .= sprintf("%x\r\n", length $chunk) . "$chunk\r\n";
    }
    return $out . "0\r\n\r\n";
}

# the app's view of the seed USER_CREATED event
sub app_sees_user {
    my ($sig) = @_;
    return app_sees($USER,
        'Smile-Signature' => $sig // sign($USER),
        'X-Smile-Event-Id' => $USER_ID,
        'X-Smile-Event-Type' => 'USER_CREATED',
        'X-Smile-Event-Created-At' => '2021-04-14T09:30:24Z',
        'X-Smile-User-Id' => $TENANT);
}

# What no log line may contain after a rejection: the app's line (it must not
# run), the secret, body content and whatever else is given (computed
# signatures, more body markers).  The signature the client sent ($sent) is
# logged by nginx's own debug lines ("http header: ..."), so it is only
# forbidden in the module's lines.
sub never_logged {
    my ($sent, @nowhere) = @_;
    return ["app received", $SECRET, $TENANT, @nowhere,
            defined $sent ? qr/smile webhook.*\Q$sent\E/ : ()];
}

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: ok: an authentic event reaches the app with its routing headers and the $smile_* variables
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Vars "id=$smile_event_id type=$smile_event_type version=$smile_event_version created=$smile_event_created_at user=$smile_user_id account=$smile_account_id key=$smile_webhook_key" always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::ACCOUNT)
--- request eval
::post($::ACCOUNT)
--- response_body eval
::app_sees($::ACCOUNT,
    'Smile-Signature' => SmileTest::sign($::ACCOUNT),
    'X-Smile-Event-Id' => $::USER_ID,
    'X-Smile-Event-Type' => 'ACCOUNT_CREATED',
    'X-Smile-Event-Created-At' => '2021-04-14T09:30:24Z',
    'X-Smile-User-Id' => $::TENANT)
--- response_headers eval
"X-Result: ok
X-Vars: id=$::USER_ID type=ACCOUNT_CREATED version=1 created=2021-04-14T09:30:24Z user=$::TENANT account=a-123abc456def789abc123def456abc78 key=secret1"
--- error_log
app received POST /hook with 306 body bytes
--- no_error_log eval
["smile webhook rejected", "[error]", $::SECRET,
 qr/smile webhook.*@{[SmileTest::sign($::ACCOUNT)]}/]



=== TEST 2: ip_denied with the default allow list (18.142.61.230 only): 401, the body is never read
The body is chunked and larger than client_max_body_size: reading it would
answer 413 and log "client intended to send too large chunked body".
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        client_max_body_size 64;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
"Transfer-Encoding: chunked\nSmile-Signature: " . SmileTest::sign($::USER)
--- request eval
::post(::chunked($::USER, 50))
--- error_code: 401
--- response_headers
X-Result: ip_denied
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("ip_denied", "client address is not in smile_webhook_allow", "")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER), "too large", "[error]")



=== TEST 3: ip_denied with an explicit list of addresses and networks
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 10.0.0.0/8;
        smile_webhook_allow 127.0.0.2;
        smile_webhook_allow ::1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key "key=$smile_webhook_key id=$smile_event_id" always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: ip_denied
X-Key: key= id=
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("ip_denied", "client address is not in smile_webhook_allow", "")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER))



=== TEST 4: the address set by the realip module is checked: Smile's address is allowed by default
--- config
    location = /hook {
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        smile_webhook on;
        smile_webhook_secret "a little secret";
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, undef, "X-Real-IP: 18.142.61.230")
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
--- response_body eval
::app_sees_user()
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 5: the address set by the realip module is checked: any other address is denied
--- config
    location = /hook {
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        smile_webhook on;
        smile_webhook_secret "a little secret";
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, undef, "X-Real-IP: 203.0.113.9")
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: ip_denied
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("ip_denied", "client address is not in smile_webhook_allow", "",
           client => "203.0.113.9")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER))



=== TEST 6: method_not_allowed: GET is answered 405 with "Allow: POST"
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
"Smile-Signature: " . SmileTest::sign("")
--- request
GET /hook
--- error_code: 405
--- response_headers
X-Result: method_not_allowed
Allow: POST
--- response_body eval
::error_page(405)
--- error_log eval
::rejected("method_not_allowed", "method is not POST", "", method => "GET")
--- no_error_log eval
::never_logged(SmileTest::sign(""))



=== TEST 7: method_not_allowed: a signed PUT is answered 405 and its body is never read
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 64;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
"Transfer-Encoding: chunked\nSmile-Signature: " . SmileTest::sign($::USER)
--- request eval
"PUT /hook\n" . ::chunked($::USER, 50)
--- error_code: 405
--- response_headers
X-Result: method_not_allowed
Allow: POST
--- response_body eval
::error_page(405)
--- error_log eval
::rejected("method_not_allowed", "method is not POST", "", method => "PUT")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER), "too large", "[error]")



=== TEST 8: missing_signature: 401, the body is never read
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 64;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
::post(::chunked($::USER, 50))
--- error_code: 401
--- response_headers
X-Result: missing_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("missing_signature", "no signature header", "")
--- no_error_log eval
::never_logged(undef, SmileTest::sign($::USER), "too large", "[error]")



=== TEST 9: missing_signature: a lookalike header name is not the signature header
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
"Smile-Signature-SHA512: " . SmileTest::sign($::USER) . "\nContent-Length: " . length($::USER)
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: missing_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("missing_signature", "no signature header", "")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER))



=== TEST 10: malformed_signature: the header sent twice (both right) is rejected, the body is never read
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 64;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
"Transfer-Encoding: chunked\nSmile-Signature: " . SmileTest::sign($::USER)
. "\nsmile-signature: " . SmileTest::sign($::USER)
--- request eval
::post(::chunked($::USER, 50))
--- error_code: 401
--- response_headers
X-Result: malformed_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("malformed_signature",
           "signature header is repeated or not 128 hex digits", "")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER), "too large", "[error]")



=== TEST 11: malformed_signature: 127 hex digits
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, substr(SmileTest::sign($::USER), 0, 127))
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: malformed_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("malformed_signature",
           "signature header is repeated or not 128 hex digits", "")
--- no_error_log eval
::never_logged(substr(SmileTest::sign($::USER), 0, 127), SmileTest::sign($::USER))



=== TEST 12: malformed_signature: 129 hex digits
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, SmileTest::sign($::USER) . "0")
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: malformed_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("malformed_signature",
           "signature header is repeated or not 128 hex digits", "")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER) . "0")



=== TEST 13: malformed_signature: 128 characters with one that is not a hex digit
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
my $sig = SmileTest::sign($::USER);
substr($sig, 77, 1) = "g";
::hdrs($::USER, $sig)
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: malformed_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("malformed_signature",
           "signature header is repeated or not 128 hex digits", "")
--- no_error_log eval
my $sig = SmileTest::sign($::USER);
substr($sig, 77, 1) = "g";
::never_logged($sig, SmileTest::sign($::USER))



=== TEST 14: malformed_signature: a "sha512=" prefix is not part of Smile's scheme
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, "sha512=" . SmileTest::sign($::USER))
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: malformed_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("malformed_signature",
           "signature header is repeated or not 128 hex digits", "")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER))



=== TEST 15: uppercase hex digits are accepted, and the header goes upstream unchanged
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, uc SmileTest::sign($::USER))
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
--- response_body eval
::app_sees_user(uc SmileTest::sign($::USER))
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 16: mixed-case hex digits are accepted
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
my $sig = SmileTest::sign($::USER);
$sig =~ s/([a-f])([^a-f]*)([a-f])/\U$1\E$2$3/g;
die "not mixed" unless $sig =~ /[A-F]/ && $sig =~ /[a-f]/;
::hdrs($::USER, $sig)
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
--- response_body eval
my $sig = SmileTest::sign($::USER);
$sig =~ s/([a-f])([^a-f]*)([a-f])/\U$1\E$2$3/g;
::app_sees_user($sig)
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 17: bad_signature: signed with another secret; no event variable, nothing secret logged or answered
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Vars "id=$smile_event_id type=$smile_event_type version=$smile_event_version created=$smile_event_created_at user=$smile_user_id account=$smile_account_id key=$smile_webhook_key" always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::ACCOUNT, SmileTest::sign($::ACCOUNT, "another secret"))
--- request eval
::post($::ACCOUNT)
--- error_code: 401
--- response_headers
X-Result: bad_signature
X-Vars: id= type= version= created= user= account= key=
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           qq(, unverified event id "$::USER_ID"))
--- no_error_log eval
::never_logged(SmileTest::sign($::ACCOUNT, "another secret"),
               SmileTest::sign($::ACCOUNT), "another secret", "a-123abc456def789abc123def456abc78",
               "ACCOUNT_CREATED", "[error]")



=== TEST 18: bad_signature: one byte of the signed body changed
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key "key=$smile_webhook_key type=$smile_event_type" always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
(my $b = $::USER) =~ s/abc78"\n  }/abc79"\n  }/ or die "no match";
::post($b)
--- error_code: 401
--- response_headers
X-Result: bad_signature
X-Key: key= type=
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           qq(, unverified event id "$::USER_ID"))
--- no_error_log eval
(my $b = $::USER) =~ s/abc78"\n  }/abc79"\n  }/;
::never_logged(SmileTest::sign($::USER), SmileTest::sign($b), "tenantId-123abc456def789abc123def456abc79")



=== TEST 19: bad_signature: the body re-encoded without its final newline
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
(my $b = $::USER) =~ s/\n\z// or die "no final newline";
::hdrs($b, SmileTest::sign($::USER))
--- request eval
(my $b = $::USER) =~ s/\n\z//;
::post($b)
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           qq(, unverified event id "$::USER_ID"))
--- no_error_log eval
(my $b = $::USER) =~ s/\n\z//;
::never_logged(SmileTest::sign($::USER), SmileTest::sign($b))



=== TEST 20: malformed_event: no top-level "id" (authentic, 400, not forwarded)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key "key=$smile_webhook_key" always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"version":1,"type":"USER_CREATED","createdAt":"2021-04-14T09:30:24Z","data":{"userId":"$::TENANT"}}\n))
--- request eval
::post(qq({"version":1,"type":"USER_CREATED","createdAt":"2021-04-14T09:30:24Z","data":{"userId":"$::TENANT"}}\n))
--- error_code: 400
--- response_headers
X-Result: malformed_event
X-Key: key=secret1
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", 'no top-level string "id"', "")
--- no_error_log eval
::never_logged(SmileTest::sign(qq({"version":1,"type":"USER_CREATED","createdAt":"2021-04-14T09:30:24Z","data":{"userId":"$::TENANT"}}\n)))



=== TEST 21: malformed_event: no top-level "type"; the verified event id is logged
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-no-type","version":1,"data":{"type":"USER_CREATED"}}))
--- request eval
::post(qq({"id":"evt-no-type","version":1,"data":{"type":"USER_CREATED"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", 'no top-level string "type"',
           ', event id "evt-no-type"')
--- no_error_log eval
::never_logged(SmileTest::sign(qq({"id":"evt-no-type","version":1,"data":{"type":"USER_CREATED"}})), "unverified")



=== TEST 22: malformed_event: a JSON array is not an event
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq([{"id":"evt-1","type":"USER_CREATED"}]))
--- request eval
::post(qq([{"id":"evt-1","type":"USER_CREATED"}]))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "body is not a JSON object", "")
--- no_error_log eval
::never_logged(SmileTest::sign(qq([{"id":"evt-1","type":"USER_CREATED"}])))



=== TEST 23: malformed_event: a JSON string is not an event
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq("USER_CREATED"))
--- request eval
::post(qq("USER_CREATED"))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "body is not a JSON object", "")
--- no_error_log eval
::never_logged(SmileTest::sign(qq("USER_CREATED")))



=== TEST 24: malformed_event: invalid JSON (the object is never closed)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(substr($::USER, 0, -3))
--- request eval
::post(substr($::USER, 0, -3))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "body is not valid JSON",
           qq(, event id "$::USER_ID"))
--- no_error_log eval
::never_logged(SmileTest::sign(substr($::USER, 0, -3)))



=== TEST 25: malformed_event: trailing garbage after the event object
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER . qq({"id":"evt-2","type":"USER_CREATED"}\n))
--- request eval
::post($::USER . qq({"id":"evt-2","type":"USER_CREATED"}\n))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "body is not valid JSON",
           qq(, event id "$::USER_ID"))
--- no_error_log eval
::never_logged(SmileTest::sign($::USER . qq({"id":"evt-2","type":"USER_CREATED"}\n)), "evt-2")



=== TEST 26: malformed_event: a JSON escape decoding to CR LF in "id" injects no header
The body has literal backslash escapes; decoded, the id would be
"a\r\nX-Smile-Event-Type: FORGED".
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Id "id=$smile_event_id" always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"a\r\nX-Smile-Event-Type: FORGED","type":"USER_CREATED"}))
--- request eval
::post(q({"id":"a\r\nX-Smile-Event-Type: FORGED","type":"USER_CREATED"}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
X-Id: id=
--- raw_response_headers_unlike: FORGED
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", '"id" does not match the safe pattern', "")
--- no_error_log eval
::never_logged(SmileTest::sign(q({"id":"a\r\nX-Smile-Event-Type: FORGED","type":"USER_CREATED"})), "FORGED")



=== TEST 27: malformed_event: a nested "data.id" (INSIGHT_ADDED) is not the event id
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
(my $b = $::INSIGHT) =~ s/^  "id": "[^"]*",\n//m or die "no top-level id";
::hdrs($b)
--- request eval
(my $b = $::INSIGHT) =~ s/^  "id": "[^"]*",\n//m;
::post($b)
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", 'no top-level string "id"', "")
--- no_error_log eval
(my $b = $::INSIGHT) =~ s/^  "id": "[^"]*",\n//m;
::never_logged(SmileTest::sign($b), "insight-ef789aabc41236abc7856df45bc123de")



=== TEST 28: malformed_event: a duplicate top-level "id"
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"evt-1","type":"USER_CREATED","id":"evt-2"}))
--- request eval
::post(q({"id":"evt-1","type":"USER_CREATED","id":"evt-2"}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "duplicate key in event", ', event id "evt-1"')
--- no_error_log eval
::never_logged(SmileTest::sign(q({"id":"evt-1","type":"USER_CREATED","id":"evt-2"})), "evt-2")



=== TEST 29: malformed_event: "id" is a number, not a string
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":12345,"type":"USER_CREATED"}))
--- request eval
::post(q({"id":12345,"type":"USER_CREATED"}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", '"id" is not a string', "")
--- no_error_log eval
::never_logged(SmileTest::sign(q({"id":12345,"type":"USER_CREATED"})))



=== TEST 30: malformed_event: a lowercase "type" does not match [A-Z0-9_]{1,64}
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"evt-1","type":"user_created"}))
--- request eval
::post(q({"id":"evt-1","type":"user_created"}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", '"type" does not match the safe pattern',
           ', event id "evt-1"')
--- no_error_log eval
::never_logged(SmileTest::sign(q({"id":"evt-1","type":"user_created"})))



=== TEST 31: malformed_event: an id of 129 characters is too long
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
my $b = '{"type":"USER_CREATED","id":"' . ("a" x 129) . '"}';
::hdrs($b)
--- request eval
::post('{"type":"USER_CREATED","id":"' . ("a" x 129) . '"}')
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", '"id" does not match the safe pattern', "")
--- no_error_log eval
::never_logged(SmileTest::sign('{"type":"USER_CREATED","id":"' . ("a" x 129) . '"}'))



=== TEST 32: ok: an id of exactly 128 characters from the safe alphabet
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
my $id = "A-z.0_9:" x 16;
::hdrs(qq({"type":"USER_CREATED","id":"$id"}))
--- request eval
my $id = "A-z.0_9:" x 16;
::post(qq({"type":"USER_CREATED","id":"$id"}))
--- response_headers
X-Result: ok
--- response_body eval
my $id = "A-z.0_9:" x 16;
my $b = qq({"type":"USER_CREATED","id":"$id"});
::app_sees($b, 'Smile-Signature' => SmileTest::sign($b),
           'X-Smile-Event-Id' => $id, 'X-Smile-Event-Type' => 'USER_CREATED')
--- no_error_log
smile webhook rejected
[error]



=== TEST 33: malformed_event: "createdAt" outside [0-9A-Za-z:.+-]{1,64}
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"evt-1","type":"USER_CREATED","createdAt":"2021-04-14 09:30:24"}))
--- request eval
::post(q({"id":"evt-1","type":"USER_CREATED","createdAt":"2021-04-14 09:30:24"}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", '"createdAt" does not match the safe pattern',
           ', event id "evt-1"')
--- no_error_log eval
::never_logged(SmileTest::sign(q({"id":"evt-1","type":"USER_CREATED","createdAt":"2021-04-14 09:30:24"})))



=== TEST 34: malformed_event: "data.userId" outside the id pattern
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"evt-1","type":"USER_CREATED","data":{"userId":"u/../1"}}))
--- request eval
::post(q({"id":"evt-1","type":"USER_CREATED","data":{"userId":"u/../1"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", '"data.userId" does not match the safe pattern',
           ', event id "evt-1"')
--- no_error_log eval
::never_logged(SmileTest::sign(q({"id":"evt-1","type":"USER_CREATED","data":{"userId":"u/../1"}})), "u/../1")



=== TEST 35: $smile_webhook_key names the secret that matched (name=ID)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "the old secret" name=old;
        smile_webhook_secret "a little secret" name=current;
        smile_webhook_secret "the next secret" name=next;
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
X-Key: current
--- response_body eval
::app_sees_user()
--- no_error_log eval
["smile webhook rejected", "[error]", "the old secret", "a little secret", "the next secret"]



=== TEST 36: $smile_webhook_key: unnamed secrets are secret1, secret2, ... in order
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "the old secret";
        smile_webhook_secret "the next secret";
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
X-Key: secret3
--- response_body eval
::app_sees_user()
--- no_error_log
smile webhook rejected
[error]



=== TEST 37: ok: client-sent X-Smile-* headers never reach the app, only the verified ones
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, undef,
       "X-Smile-Event-Id: forged-id",
       "X-Smile-Event-Type: FORGED",
       "x-smile-user-id: forged-user",
       "X-SMILE-WEBHOOK-RESULT: ok")
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
--- response_body eval
::app_sees_user()
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 38: smile_webhook_log_level: rejections are logged at the configured level
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_log_level error;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER, SmileTest::sign($::USER, "another secret"))
--- request eval
::post($::USER)
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           qq(, unverified event id "$::USER_ID"), level => "error")
--- no_error_log eval
::never_logged(SmileTest::sign($::USER, "another secret"), SmileTest::sign($::USER),
               qr/\[warn\].*smile webhook/)



=== TEST 39: bad_signature: an unsafe id in an unverified body is not logged (no log injection)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"x\"\r\n2038/01/19 03:14:07 [emerg] forged","type":"USER_CREATED"}),
       SmileTest::sign("forged"))
--- request eval
::post(q({"id":"x\"\r\n2038/01/19 03:14:07 [emerg] forged","type":"USER_CREATED"}))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature", "")
--- no_error_log eval
::never_logged(SmileTest::sign("forged"), "forged", "2038/01/19")
