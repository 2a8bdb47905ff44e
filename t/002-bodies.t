# Every seed example event, and every way a body can reach the module (in
# memory, spilled to a temporary file, file only, chunked, split across
# packets, HTTP/2, empty, 5 MB, non-ASCII, invalid UTF-8, too large):
# verified alike, and forwarded byte for byte.  A body read earlier by
# another module (lua): t/015-lua.t.
#
# The app behind proxy_pass and the request/expectation helpers are in
# t/lib/SmileApp.pm.
#
# The 25 seed blocks are generated from t/events/ before the blocks below
# __DATA__ (see the end of the Perl part).

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest;
use SmileApp qw(:DEFAULT tx_event forwarded tampered);
use JSON::PP ();

repeat_each(2);
no_shuffle();
no_long_string();

our $USER   = event_body('01_user_created.json');
our $TENANT = 'tenantId-123abc456def789abc123def456abc78';
our $ACCT   = 'a-123abc456def789abc123def456abc78';

# about 40 KB: larger than client_body_buffer_size 1k, smaller than 1m
our $TX = tx_event('tx-event-40k', 400);

# about 5 MB, most of it one string inside "data"
our $BIG = qq({"id":"big-event-5mb","version":1,"type":"DOCUMENTS_ADDED",)
           . qq("createdAt":"2021-04-14T09:30:24Z","data":{"userId":"$TENANT",)
           . qq("accountId":"$ACCT","document":")
           . join('', map { sprintf "%07d abcdefghijklmnopqrstuvwxyz ", $_ }
                          1 .. 150_000)
           . qq("}}\n);

# UTF-8 text (these are raw UTF-8 bytes: no "use utf8"), short and long
# strings, 2-, 3- and 4-byte characters
our $CN = qq({"id":"et-cn-0001","version":1,"type":"EMPLOYMENTS_ADDED",)
          . qq("createdAt":"2021-04-14T09:30:24+08:00","data":{"userId":"$TENANT",)
          . qq("accountId":"$ACCT","employments":[{"employer":"深圳市腾讯计算机系统有限公司",)
          . qq("title":"高级工程师","city":"Zürich","note":"工资（薪金）— 2021年4月 😀",)
          . qq("history":") . ("入职、晋升、调岗；" x 40) . qq("}]}}\n);

add_block_preprocessor(\&with_app);

# more_headers for a chunked body: no Content-Length
sub chunked_hdrs {
    my ($body, $sig) = @_;
    return "Transfer-Encoding: chunked\nSmile-Signature: "
           . ($sig // sign($body));
}

# the chunked framing of $body, in chunks of $size bytes (the last one may
# be shorter); lowercase hex sizes and a chunk extension on the first chunk
sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $chunk = substr $body, $i, $size;
        $out .= sprintf("%x", length $chunk) . ($i == 0 ? ";smile=1" : "")
                . "\r\n$chunk\r\n";
    }
    return $out . "0\r\n\r\n";
}

# HTTP/2 (TEST 51 to 53): the block's own server speaks HTTP/1.1 and its
# /hook passes the request on with grpc_pass, which always talks HTTP/2 (with
# prior knowledge) to its upstream: this server, with the module, on
# $TEST_NGINX_RAND_PORT_1.  "listen ... http2" is the one way of turning
# HTTP/2 on that every nginx from 1.22 to 1.31 accepts (1.25.1 and later
# warn that it is deprecated).  Test::Nginx's own "--- http2" cannot be used:
# since 0.31 it writes "http2 on;" for any nginx newer than 1.19.9, and that
# directive only exists from 1.25.1 on.
sub h2_server {
    my ($location) = @_;
    return $APP_HTTP_CONFIG . <<_EOC_;

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 http2;
        server_name localhost;

$location    }
_EOC_
}

# the block's own /hook: the HTTP/2 client (the body stays in memory here)
our $H2_FRONT = <<'_EOC_';
    location = /hook {
        client_body_buffer_size 1m;
        grpc_pass grpc://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_

# the front location of the seed blocks: the event variables as a header
sub front {
    return <<_EOC_;
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result \$smile_webhook_result always;
        add_header X-Vars "id=\$smile_event_id type=\$smile_event_type version=\$smile_event_version created=\$smile_event_created_at user=\$smile_user_id account=\$smile_account_id key=\$smile_webhook_key" always;
        proxy_pass http://app;
    }
_EOC_
}

# One block per seed example event: 200, the routing headers the app gets
# (INSIGHT_ADDED and LINK_ADDED: the top-level id, not data.id), the event
# variables, and the body byte for byte.
my @names = event_names();
die "expected the 25 seed events in t/events, found " . scalar(@names)
    unless @names == 25;

my $seed_blocks = '';
my $n = 0;

for my $name (@names) {
    my $body = event_body($name);
    my $ev = JSON::PP->new->utf8->decode($body);
    my $data = ref $ev->{data} eq 'HASH' ? $ev->{data} : {};

    my $note = '';
    if (defined $data->{id}) {
        die "$name: data.id is the event id" if $data->{id} eq $ev->{id};
        $note = " (the top-level id, not data.id)";
    }

    my %x = ('X-Smile-Event-Id' => $ev->{id},
             'X-Smile-Event-Type' => $ev->{type});
    $x{'X-Smile-Event-Created-At'} = $ev->{createdAt} if defined $ev->{createdAt};
    $x{'X-Smile-User-Id'} = $data->{userId} if defined $data->{userId};
    my $x = join ",\n    ", map { "'$_' => '$x{$_}'" } sort keys %x;

    my $vars = join ' ', "id=$ev->{id}", "type=$ev->{type}",
                         "version=" . ($ev->{version} // ''),
                         "created=" . ($ev->{createdAt} // ''),
                         "user=" . ($data->{userId} // ''),
                         "account=" . ($data->{accountId} // ''),
                         "key=secret1";
    my $len = length $body;
    my $config = front();
    $n++;

    $seed_blocks .= <<_EOB_;
=== TEST $n: seed $name: $ev->{type} is verified, routed$note and forwarded byte for byte
--- config
$config--- more_headers eval
::hdrs(SmileTest::event_body('$name'))
--- request eval
::post(SmileTest::event_body('$name'))
--- response_headers
X-Result: ok
X-Vars: $vars
--- response_body eval
::app_sees(SmileTest::event_body('$name'),
    'Smile-Signature' => SmileTest::sign(SmileTest::event_body('$name')),
    $x)
--- error_log
app received POST /hook with $len body bytes
--- no_error_log
smile webhook rejected
[error]



_EOB_
}

my $blocks = do { local $/; <DATA> };
spec_string($seed_blocks . $blocks);

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 26: in memory: a 40k event within client_body_buffer_size
--- config
    location = /hook {
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



=== TEST 27: spilled to a temporary file: the same event with client_body_buffer_size 1k
--- config
    location = /hook {
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
::post($::TX)
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



=== TEST 28: spilled to a temporary file: tampered is rejected
--- config
    location = /hook {
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
::post(::tampered($::TX))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
["a client request body is buffered to a temporary file",
 ::rejected("bad_signature", "no configured secret matches the signature",
            ', unverified event id "tx-event-40k"')]
--- no_error_log eval
["app received", SmileTest::sign(::tampered($::TX))]



=== TEST 29: client_body_in_file_only on: a small event, written to a file from the first byte
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_in_file_only on;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::USER)
--- error_log
a client request body is buffered to a temporary file
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 30: client_body_in_file_only on: the 40k event
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_in_file_only on;
        client_body_buffer_size 1k;
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



=== TEST 31: chunked request body in several chunks of 7000 bytes
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_buffer_size 1m;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::chunked_hdrs($::TX)
--- request eval
::post(::chunked($::TX, 7000))
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::TX)
--- error_log eval
"app received POST /hook with " . length($::TX) . " body bytes"
--- no_error_log
smile webhook rejected
[error]



=== TEST 32: chunked request body spilled to a temporary file
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_body_buffer_size 1k;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::chunked_hdrs($::TX)
--- request eval
::post(::chunked($::TX, 3000))
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



=== TEST 33: chunked request body in 1-byte chunks
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::chunked_hdrs($::USER)
--- request eval
::post(::chunked($::USER, 1))
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::USER)
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 34: chunked request body in 1-byte chunks: tampered is rejected
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::chunked_hdrs($::USER, SmileTest::sign($::USER))
--- request eval
::post(::chunked(::tampered($::USER), 1))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           ', unverified event id "et-123abc456def789abc123def456abc78"')
--- no_error_log
app received



=== TEST 35: non-ASCII text in 1-byte chunks: every multi-byte character split across buffers
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::chunked_hdrs($::CN)
--- request eval
::post(::chunked($::CN, 1))
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::CN)
--- error_log eval
"app received POST /hook with " . length($::CN) . " body bytes"
--- no_error_log
smile webhook rejected
[error]



=== TEST 36: the body split across TCP packets (separate writes with pauses)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
[["POST /hook\n" . substr($::USER, 0, 1),
  {value => substr($::USER, 1, 9), delay_before => 0.02},
  {value => substr($::USER, 10, 50), delay_before => 0.02},
  {value => substr($::USER, 60, 100), delay_before => 0.02},
  {value => substr($::USER, 160), delay_before => 0.02}]]
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::USER)
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 37: the request head and body split across TCP packets, non-ASCII text split mid-character
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- raw_request eval
my $b = $::CN;
my $i = index($b, "腾") + 1;
my $j = index($b, "😀") + 2;
["POST /hook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nSmile-Sig",
 "nature: " . SmileTest::sign($b) . "\r\nContent-Length: " . length($b)
 . "\r\n\r\n" . substr($b, 0, $i),
 substr($b, $i, $j - $i),
 substr($b, $j)]
--- raw_request_middle_delay: 0.02
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::CN)
--- error_log eval
"app received POST /hook with " . length($::CN) . " body bytes"
--- no_error_log
smile webhook rejected
[error]



=== TEST 38: empty body, signed: authentic but not an event (400)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs("")
--- request
POST /hook
--- error_code: 400
--- response_headers
X-Result: malformed_event
X-Key: secret1
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "body is not valid JSON", "")
--- no_error_log
app received



=== TEST 39: empty body, signature of another body: 401
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs("", SmileTest::sign($::USER))
--- request
POST /hook
--- error_code: 401
--- response_headers
X-Result: bad_signature
!X-Key
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature", "")
--- no_error_log eval
["app received", SmileTest::sign("")]



=== TEST 40: a 5 MB event is verified and forwarded byte for byte
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 8m;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::BIG)
--- request eval
::post($::BIG)
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::BIG,
    'X-Smile-Event-Id' => 'big-event-5mb',
    'X-Smile-Event-Type' => 'DOCUMENTS_ADDED',
    'X-Smile-Event-Created-At' => '2021-04-14T09:30:24Z',
    'X-Smile-User-Id' => $::TENANT)
--- error_log eval
"app received POST /hook with " . length($::BIG) . " body bytes"
--- no_error_log
smile webhook rejected
[error]
--- timeout: 10



=== TEST 41: a 5 MB event with one byte changed is rejected and not forwarded
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 8m;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::BIG)
--- request eval
::post(::tampered($::BIG))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           ', unverified event id "big-event-5mb"')
--- no_error_log eval
["app received", SmileTest::sign(::tampered($::BIG))]
--- timeout: 10



=== TEST 42: non-ASCII (UTF-8 Chinese, accents, emoji) in data fields: forwarded byte for byte
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::CN)
--- request eval
::post($::CN)
--- response_headers
X-Result: ok
--- response_body eval
::forwarded($::CN)
--- error_log eval
"app received POST /hook with " . length($::CN) . " body bytes"
--- no_error_log
smile webhook rejected
[error]



=== TEST 43: JSON \u escapes (non-ASCII and a surrogate pair) in data: forwarded unchanged
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(q({"id":"evt-esc","type":"USER_CREATED","data":{"name":"\u6df1\u5733 \ud83d\ude00 \"quoted\" \\\\ \/"}}))
--- request eval
::post(q({"id":"evt-esc","type":"USER_CREATED","data":{"name":"\u6df1\u5733 \ud83d\ude00 \"quoted\" \\\\ \/"}}))
--- response_headers
X-Result: ok
--- response_body eval
::forwarded(q({"id":"evt-esc","type":"USER_CREATED","data":{"name":"\u6df1\u5733 \ud83d\ude00 \"quoted\" \\\\ \/"}}))
--- no_error_log
smile webhook rejected
[error]



=== TEST 44: invalid UTF-8 (a 0xFF byte) in a data string: authentic, 400, not forwarded
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        add_header X-Key $smile_webhook_key always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"name":"ab\xffcd"}}))
--- request eval
::post(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"name":"ab\xffcd"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
X-Key: secret1
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "invalid UTF-8 in a string", ', event id "evt-utf8"')
--- no_error_log
app received



=== TEST 45: invalid UTF-8 (a truncated 3-byte character) far inside a long string: 400
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"note":") . ("深圳" x 100) . qq(\xe6\xb7 end"}}))
--- request eval
::post(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"note":") . ("深圳" x 100) . qq(\xe6\xb7 end"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "invalid UTF-8 in a string", ', event id "evt-utf8"')
--- no_error_log
app received



=== TEST 46: invalid UTF-8: an overlong encoding ("/" as C0 AF) is rejected
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"path":"..\xc0\xaf..\xc0\xafetc"}}))
--- request eval
::post(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"path":"..\xc0\xaf..\xc0\xafetc"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "invalid UTF-8 in a string", ', event id "evt-utf8"')
--- no_error_log
app received



=== TEST 47: invalid UTF-8: a UTF-16 surrogate encoded as UTF-8 (ED A0 80) is rejected
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"name":"a\xed\xa0\x80b"}}))
--- request eval
::post(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"name":"a\xed\xa0\x80b"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "invalid UTF-8 in a string", ', event id "evt-utf8"')
--- no_error_log
app received



=== TEST 48: invalid UTF-8: a code point above U+10FFFF (F4 90 80 80) far inside a long string
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"note":") . ("x" x 300) . qq(\xf4\x90\x80\x80"}}))
--- request eval
::post(qq({"id":"evt-utf8","type":"USER_CREATED","data":{"note":") . ("x" x 300) . qq(\xf4\x90\x80\x80"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "invalid UTF-8 in a string", ', event id "evt-utf8"')
--- no_error_log
app received



=== TEST 49: a raw control character inside a string is invalid JSON: 400
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs(qq({"id":"evt-ctl","type":"USER_CREATED","data":{"note":") . ("x" x 300) . qq(\x01"}}))
--- request eval
::post(qq({"id":"evt-ctl","type":"USER_CREATED","data":{"note":") . ("x" x 300) . qq(\x01"}}))
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "body is not valid JSON", ', event id "evt-ctl"')
--- no_error_log
app received



=== TEST 50: deeply nested JSON (300 levels) is rejected, not parsed without bound
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs('{"id":"evt-deep","type":"USER_CREATED","data":' . ("[" x 300) . ("]" x 300) . '}')
--- request eval
::post('{"id":"evt-deep","type":"USER_CREATED","data":' . ("[" x 300) . ("]" x 300) . '}')
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event", "JSON is nested too deeply", ', event id "evt-deep"')
--- no_error_log
app received



=== TEST 51: HTTP/2: an authentic event is verified and forwarded byte for byte
--- http_config eval
::h2_server(<<'_EOC_')
        location = /hook {
            smile_webhook on;
            smile_webhook_secret "a little secret";
            smile_webhook_allow 127.0.0.1;
            add_header X-Result $smile_webhook_result always;
            add_header X-Protocol $server_protocol always;
            proxy_pass http://app;
        }
_EOC_
--- config eval
$::H2_FRONT
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- response_headers
X-Result: ok
X-Protocol: HTTP/2.0
--- response_body eval
::forwarded($::USER)
--- error_log
app received POST /hook with 206 body bytes
--- no_error_log
smile webhook rejected
[error]



=== TEST 52: HTTP/2: a tampered event is rejected
--- http_config eval
::h2_server(<<'_EOC_')
        location = /hook {
            smile_webhook on;
            smile_webhook_secret "a little secret";
            smile_webhook_allow 127.0.0.1;
            add_header X-Result $smile_webhook_result always;
            proxy_pass http://app;
        }
_EOC_
--- config eval
$::H2_FRONT
--- more_headers eval
::hdrs($::USER)
--- request eval
::post(::tampered($::USER))
--- error_code: 401
--- response_headers
X-Result: bad_signature
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("bad_signature", "no configured secret matches the signature",
           ', unverified event id "et-123abc456def789abc123def456abc78"',
           proto => "HTTP/2.0")
--- no_error_log
app received



=== TEST 53: HTTP/2: the 40k event spilled to a temporary file
--- http_config eval
::h2_server(<<'_EOC_')
        location = /hook {
            smile_webhook on;
            smile_webhook_secret "a little secret";
            smile_webhook_allow 127.0.0.1;
            client_body_buffer_size 1k;
            add_header X-Result $smile_webhook_result always;
            add_header X-Protocol $server_protocol always;
            proxy_pass http://app;
        }
_EOC_
--- config eval
$::H2_FRONT
--- more_headers eval
::hdrs($::TX)
--- request eval
::post($::TX)
--- response_headers
X-Result: ok
X-Protocol: HTTP/2.0
--- response_body eval
::forwarded($::TX)
--- error_log eval
["a client request body is buffered to a temporary file",
 "app received POST /hook with " . length($::TX) . " body bytes"]
--- no_error_log
smile webhook rejected
[error]



=== TEST 54: a body larger than client_max_body_size (Content-Length): 413 from nginx, not forwarded
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 16k;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::hdrs($::TX)
--- request eval
::post($::TX)
--- error_code: 413
--- response_headers
!X-Result
--- response_body eval
::error_page(413)
--- error_log
client intended to send too large body
--- no_error_log
app received
smile webhook rejected



=== TEST 55: a chunked body larger than client_max_body_size: 413 while the module reads it, not forwarded
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        client_max_body_size 16k;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
::chunked_hdrs($::TX)
--- request eval
::post(::chunked($::TX, 4000))
--- error_code: 413
--- response_headers
!X-Result
--- response_body eval
::error_page(413)
--- error_log
client intended to send too large chunked body
--- no_error_log
app received
smile webhook rejected



=== TEST 56: pipelined requests on one connection: authentic, tampered, authentic
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
[::hdrs($::CN), ::hdrs($::USER), ::hdrs($::USER)]
--- pipelined_requests eval
[::post($::CN), ::post(::tampered($::USER)), ::post($::USER)]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Result: ok", "X-Result: bad_signature", "X-Result: ok"]
--- response_body eval
[::forwarded($::CN), ::error_page(401), ::forwarded($::USER)]
--- no_error_log
[error]



=== TEST 57: pipelined requests: the unread bodies of rejected requests are discarded, never parsed as requests
The first two bodies are HTTP requests themselves; read as the next request,
they would answer 405 and shift every later answer.
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://app;
    }
--- more_headers eval
["Content-Length: " . length("GET /hook HTTP/1.1\r\nHost: localhost\r\n\r\n"),
 "Transfer-Encoding: chunked\nSmile-Signature: 0123456789abcdef",
 ::hdrs($::USER)]
--- pipelined_requests eval
["POST /hook\nGET /hook HTTP/1.1\r\nHost: localhost\r\n\r\n",
 "POST /hook\n" . ::chunked("GET /hook HTTP/1.1\r\nHost: localhost\r\n\r\n", 8),
 ::post($::USER)]
--- error_code eval
[401, 401, 200]
--- response_headers eval
["X-Result: missing_signature", "X-Result: malformed_signature", "X-Result: ok"]
--- response_body eval
[::error_page(401), ::error_page(401), ::forwarded($::USER)]
--- no_error_log
[error]
