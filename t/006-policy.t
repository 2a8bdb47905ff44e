# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# The policy checks on an authentic event, in their order: the type filter
# (smile_webhook_events: an unlisted type is acknowledged with 200 and
# dropped), the replay window on the signed createdAt (smile_webhook_max_age:
# stale 401, missing or unparsable createdAt 400), then dedupe.  Report
# mode forwards what enforcement would refuse or drop, with
# X-Smile-Webhook-Result.  Spoofed X-Smile-* request headers never reach the
# app.  Configuration errors and the catalogue warning.
#
# Events with a createdAt relative to now are built when the file is read,
# so every margin is at least 30 s, and an hour where the test can afford
# it: the whole file may run for minutes under valgrind.
#
# The app is the "ledger" of t/lib/SmileApp.pm (it counts the deliveries of
# each id, GET /hits lists them); blocks that send a sequence of events do
# it from a "--- driver".  Configuration messages name the line of the
# block's own config (conf_error()).
#
# One round per block (repeat_each(1)): the ledger's counts and the dedupe
# zone live as long as nginx, so a second round on the same nginx would
# see other delivery numbers; and start-up warnings are logged once.

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest qw(:DEFAULT fresh_event rfc3339);
use SmileApp qw(:DEFAULT :ledger);

repeat_each(1);
no_shuffle();
no_long_string();

# types
our $USER   = fresh_event(id => 'ev-user', type => 'USER_CREATED');
our $ACCT   = fresh_event(id => 'ev-account', type => 'ACCOUNT_CREATED');
our $INVITE = fresh_event(id => 'ev-invite', type => 'INVITE_INVITED');
our $NEW    = fresh_event(id => 'ev-new', type => 'NEW_THING');

# createdAt
our $NOW     = fresh_event(id => 'ev-now');
our $AGO30M  = fresh_event(id => 'ev-30m-ago', created_at => -1800);
our $AGO2H   = fresh_event(id => 'ev-2h-ago', created_at => -7200);
our $IN30S   = fresh_event(id => 'ev-in-30s', created_at => 30);
our $IN1H    = fresh_event(id => 'ev-in-1h', created_at => 3600);
our $IN90M   = fresh_event(id => 'ev-in-90m', created_at => 5400);
our $IN3H    = fresh_event(id => 'ev-in-3h', created_at => 10800);
our $PLUS8   = fresh_event(id => 'ev-now-plus8', offset => '+08:00');
our $MINUS5  = fresh_event(id => 'ev-now-minus5', offset => '-05:00');
our $PLUS530 = fresh_event(id => 'ev-now-plus0530', offset => '+05:30');
our $AGO2H8  = fresh_event(id => 'ev-2h-ago-plus8', created_at => -7200,
                           offset => '+08:00');
our $IN1H5   = fresh_event(id => 'ev-in-1h-minus5', created_at => 3600,
                           offset => '-05:00');
our $FRAC    = fresh_event(id => 'ev-now-fraction',
                           created_at => rfc3339(time) =~ s/Z$/.123456Z/r);
our $LOWER   = fresh_event(id => 'ev-now-lowercase',
                           created_at => lc rfc3339(time));
our $NOTIME  = fresh_event(id => 'ev-no-time', created_at => undef);

# createdAt values that are not RFC 3339
our @BAD_TIMES = (
    '2021-04-14 09:30:24Z', '2021-04-14T09:30:24', 'yesterday', '',
    '2021-02-29T09:30:24Z', '2021-04-14T24:00:00Z', '2021-04-14T09:30:24+0800',
    '2021-04-14T09:30:24.Z', '2021-04-14T09:30:24Z ', '21-04-14T09:30:24Z',
);
our @BAD = map { fresh_event(id => "ev-bad-time-$_", created_at => $BAD_TIMES[$_]) }
               0 .. $#BAD_TIMES;
# a number is not a time either
our $NUMBER = '{"id":"ev-bad-time-number","version":1,"type":"USER_CREATED",'
              . '"createdAt":' . time . ',"data":{"userId":"tenantId-fresh"}}';

our $ALL_TYPES = join ' ', qw(
    USER_CREATED ACCOUNT_CREATED ACCOUNT_CONNECTED ACCOUNT_DISCONNECTED
    ACCOUNT_FAILED TASK_STARTED TASK_FINISHED ACCOUNT_SYNC_TASK_FINISHED
    ARCHIVE_STARTED ARCHIVE_ANALYZED ARCHIVE_REVOKED ARCHIVE_FAILED
    INVITE_INVITED INVITE_LINKED IDENTITY_ADDED RATING_ADDED
    TRANSACTIONS_ADDED DOCUMENTS_ADDED EMPLOYMENTS_ADDED INCOMES_ADDED
    EINCOMES_ADDED CONTRIBUTIONS_ADDED LIABILITIES_ADDED INSIGHT_ADDED
    LINK_ADDED CONTRIBUTIONS_UPDATED INCOMES_UPDATED DOCUMENTS_UPDATED
    EMPLOYMENTS_UPDATED EINCOMES_UPDATED LIABILITIES_UPDATED);

add_block_preprocessor(\&with_ledger);

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: events: listed types reach the app; another type is acknowledged with 200 and an empty body, and never reaches it
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED ACCOUNT_CREATED;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::USER), ::post($::INVITE), ::post($::ACCT), ::post($::INVITE),
 "GET /hits"]
--- more_headers eval
[::hdrs($::USER), ::hdrs($::INVITE), ::hdrs($::ACCT), ::hdrs($::INVITE), ""]
--- response_headers eval
["X-Result: ok", "X-Result: ignored\nContent-Length: 0", "X-Result: ok",
 "X-Result: ignored\nContent-Length: 0", "!X-Result"]
--- response_body eval
[::ledger_sees(1, $::USER), "", ::ledger_sees(1, $::ACCT), "",
 "ev-account 1\nev-user 1\n"]
--- no_error_log
[error]
smile webhook rejected



=== TEST 2: events: the ignored event is logged at info with its id, and the app does not run
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED ACCOUNT_CREATED;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::INVITE)
--- request eval
::post($::INVITE)
--- response_headers
X-Result: ignored
Content-Length: 0
--- response_body:
--- error_log eval
::acknowledged("ignored", "event type is not in smile_webhook_events",
               "ev-invite")
--- no_error_log eval
["app received", "smile webhook rejected", qr/\[warn\] .*smile webhook/, "[error]"]



=== TEST 3: events: inherited from http level, replaced at server level, replaced again in a location, ALL_EVENTS turns the filter off
--- http_config
    smile_webhook_events USER_CREATED;
--- config
    smile_webhook_events ACCOUNT_CREATED;

    location = /server-level {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /location-level {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events INVITE_INVITED;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /all {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events ALL_EVENTS;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::USER, "/server-level"), ::post($::ACCT, "/server-level"),
 ::post($::ACCT, "/location-level"), ::post($::INVITE, "/location-level"),
 ::post($::USER, "/all"), ::post($::NEW, "/all")]
--- more_headers eval
[::hdrs($::USER), ::hdrs($::ACCT), ::hdrs($::ACCT), ::hdrs($::INVITE),
 ::hdrs($::USER), ::hdrs($::NEW)]
--- response_headers eval
["X-Result: ignored", "X-Result: ok", "X-Result: ignored", "X-Result: ok",
 "X-Result: ok", "X-Result: ok"]
--- response_body eval
["", ::ledger_sees(1, $::ACCT), "", ::ledger_sees(1, $::INVITE),
 ::ledger_sees(1, $::USER), ::ledger_sees(1, $::NEW)]
--- no_error_log
[error]
smile webhook rejected



=== TEST 4: events: a list at http level applies to a location that sets nothing
--- http_config
    smile_webhook_events INVITE_INVITED;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::USER), ::post($::INVITE)]
--- more_headers eval
[::hdrs($::USER), ::hdrs($::INVITE)]
--- response_headers eval
["X-Result: ignored", "X-Result: ok"]
--- response_body eval
["", ::ledger_sees(1, $::INVITE)]
--- no_error_log
[error]



=== TEST 5: events: all 31 catalogue types (25 and the six deprecated *_UPDATED) are accepted without a warning, and each of the 25 seed events is forwarded
--- http_config eval
"    smile_webhook_events $::ALL_TYPES;\n"
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
for my $ev (@{ $d->events }) {
    my $res = $d->post('/hook', $ev->{body}, $ev->{sig});
    my ($type) = $ev->{body} =~ /"type": "([^"]+)"/;
    $d->say($d->line($res), " ($type)");
}
--- request eval
"POST /drive\n" . ::events_list(map { SmileTest::event_body($_) } SmileTest::event_names())
--- response_body eval
my (%seen, $out);
for my $name (SmileTest::event_names()) {
    my ($id) = SmileTest::event_body($name) =~ /"id": "([^"]+)"/;
    my ($type) = SmileTest::event_body($name) =~ /"type": "([^"]+)"/;
    my $n = ++$seen{$id};
    $out .= "200 ok delivery $n of $id ($type)\n";
}
$out
--- no_error_log
event catalogue
[error]



=== TEST 6: events: a well-formed type outside the catalogue only warns at start-up (nginx.conf:LINE), and events of that type are forwarded
--- http_config
    smile_webhook_events USER_CREATED NEW_THING;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::NEW)
--- request eval
::post($::NEW)
--- response_headers
X-Result: ok
--- response_body eval
::ledger_sees(1, $::NEW)
--- error_log eval
[::conf_error('warn', qr{event type "NEW_THING" in "smile_webhook_events" directive is not in Smile's event catalogue}, 'http_config', 1),
 "app received ev-new NEW_THING delivery 1"]
--- no_error_log
[error]
[emerg]
"USER_CREATED" in "smile_webhook_events" directive is not



=== TEST 7: events: a 64-character type is valid (it only warns)
--- http_config eval
"    smile_webhook_events " . ('A' x 63) . "_;\n"
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::USER)
--- request eval
::post($::USER)
--- response_headers
X-Result: ignored
--- response_body:
--- error_log eval
::conf_error('warn', qr{event type "A{63}_" in "smile_webhook_events" directive is not in Smile's event catalogue}, 'http_config', 1)
--- no_error_log
[error]
[emerg]



=== TEST 8: config: an event type in lowercase
--- config
    location = /hook {
        smile_webhook_events USER_CREATED user_created;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid event type "user_created" in "smile_webhook_events" directive, it must be 1 to 64 of A-Z, 0-9 and _}, 'config', 2)



=== TEST 9: config: an event type with a dash, at http level
--- http_config
    smile_webhook_events USER-CREATED;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid event type "USER-CREATED" in "smile_webhook_events" directive, it must be 1 to 64 of A-Z, 0-9 and _}, 'http_config', 1)



=== TEST 10: config: an event type of 65 characters
--- config eval
"    smile_webhook_events " . ('A' x 65) . ";\n"
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid event type "A{65}" in "smile_webhook_events" directive, it must be 1 to 64 of A-Z, 0-9 and _}, 'config', 1)



=== TEST 11: config: an empty event type
--- config
    smile_webhook_events "";
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid event type "" in "smile_webhook_events" directive, it must be 1 to 64 of A-Z, 0-9 and _}, 'config', 1)



=== TEST 12: config: ALL_EVENTS after an event type
--- config
    location = /hook {
        smile_webhook_events USER_CREATED ALL_EVENTS;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"ALL_EVENTS" cannot be combined with event types in "smile_webhook_events" directive}, 'config', 2)



=== TEST 13: config: ALL_EVENTS before an event type
--- config
    smile_webhook_events ALL_EVENTS USER_CREATED;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"ALL_EVENTS" cannot be combined with event types in "smile_webhook_events" directive}, 'config', 1)



=== TEST 14: config: smile_webhook_events twice at one level
--- config
    smile_webhook_events USER_CREATED;
    smile_webhook_events ACCOUNT_CREATED;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_events" directive is duplicate}, 'config', 2)



=== TEST 15: config: smile_webhook_events without a type
--- config
    smile_webhook_events;
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid number of arguments in "smile_webhook_events" directive}, 'config', 1)



=== TEST 16: max_age: fresh, 30 minutes old, 30 s ahead (within the default 60 s skew), offsets and a fraction are accepted; 2 hours old and 1 hour ahead are stale (401), in any offset
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[map { ::post($_) } $::NOW, $::AGO30M, $::IN30S, $::PLUS8, $::MINUS5,
                    $::PLUS530, $::FRAC, $::LOWER, $::AGO2H, $::IN1H,
                    $::AGO2H8, $::IN1H5]
--- more_headers eval
[map { ::hdrs($_) } $::NOW, $::AGO30M, $::IN30S, $::PLUS8, $::MINUS5,
                    $::PLUS530, $::FRAC, $::LOWER, $::AGO2H, $::IN1H,
                    $::AGO2H8, $::IN1H5]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401, 401]
--- response_headers eval
[("X-Result: ok") x 8, ("X-Result: stale") x 4]
--- response_body eval
[(map { ::ledger_sees(1, $_) } $::NOW, $::AGO30M, $::IN30S, $::PLUS8,
                               $::MINUS5, $::PLUS530, $::FRAC, $::LOWER),
 (::error_page(401)) x 4]
--- no_error_log
[error]



=== TEST 17: max_age: an old createdAt is logged as stale with the event id, and the app does not run
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::AGO2H)
--- request eval
::post($::AGO2H)
--- error_code: 401
--- response_headers
X-Result: stale
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("stale", "createdAt is older than smile_webhook_max_age",
           ', event id "ev-2h-ago"')
--- no_error_log
app received
[error]



=== TEST 18: max_age: a createdAt too far ahead is logged as stale (clock skew) with the event id, and the app does not run
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::IN1H)
--- request eval
::post($::IN1H)
--- error_code: 401
--- response_headers
X-Result: stale
--- response_body eval
::error_page(401)
--- error_log eval
::rejected("stale", "createdAt is in the future by more than the allowed clock skew",
           ', event id "ev-in-1h"')
--- no_error_log
app received
[error]



=== TEST 19: max_age: skew=2h accepts 90 minutes ahead but not 3 hours; skew=0 refuses an hour ahead; max_age at server level is inherited
--- config
    smile_webhook_max_age 1h skew=2h;

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /no-skew {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 1h skew=0;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::IN90M), ::post($::IN3H), ::post($::AGO2H), ::post($::IN1H, "/no-skew"),
 ::post($::AGO30M, "/no-skew")]
--- more_headers eval
[::hdrs($::IN90M), ::hdrs($::IN3H), ::hdrs($::AGO2H), ::hdrs($::IN1H),
 ::hdrs($::AGO30M)]
--- error_code eval
[200, 401, 401, 401, 200]
--- response_headers eval
["X-Result: ok", "X-Result: stale", "X-Result: stale", "X-Result: stale",
 "X-Result: ok"]
--- response_body eval
[::ledger_sees(1, $::IN90M), ::error_page(401), ::error_page(401),
 ::error_page(401), ::ledger_sees(1, $::AGO30M)]
--- no_error_log
[error]



=== TEST 20: max_age: "off" in a location turns off a window set at http level; without max_age any createdAt, or none, is forwarded
--- http_config
    smile_webhook_max_age 1h;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age off;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::AGO2H), ::post($::IN3H), ::post($::NOTIME), ::post($::BAD[2])]
--- more_headers eval
[::hdrs($::AGO2H), ::hdrs($::IN3H), ::hdrs($::NOTIME), ::hdrs($::BAD[2])]
--- response_headers eval
[("X-Result: ok") x 4]
--- response_body eval
[map { ::ledger_sees(1, $_) } $::AGO2H, $::IN3H, $::NOTIME, $::BAD[2]]
--- no_error_log
[error]
smile webhook rejected



=== TEST 21: max_age: a createdAt that is missing, a number or not an RFC 3339 time is malformed_event (400), and never reaches the app
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[(map { ::post($_) } $::NOTIME, $::NUMBER, @::BAD), "GET /hits"]
--- more_headers eval
[(map { ::hdrs($_) } $::NOTIME, $::NUMBER, @::BAD), ""]
--- error_code eval
[(400) x (2 + @::BAD), 200]
--- response_headers eval
[("X-Result: malformed_event") x (2 + @::BAD), "!X-Result"]
--- response_body eval
[(::error_page(400)) x (2 + @::BAD), ""]
--- no_error_log
[error]
app received



=== TEST 22: max_age: the malformed_event log line names createdAt and the event id
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::NOTIME)
--- request eval
::post($::NOTIME)
--- error_code: 400
--- response_headers
X-Result: malformed_event
--- response_body eval
::error_page(400)
--- error_log eval
::rejected("malformed_event",
           "createdAt is missing or not an RFC 3339 time, and smile_webhook_max_age is set",
           ', event id "ev-no-time"')
--- no_error_log
app received
[error]



=== TEST 23: smile_webhook_log_level applies to stale (error here); ignored and duplicate stay at info
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        smile_webhook_log_level error;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
for my $ev (@{ $d->events }) {
    $d->say($d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
}
--- request eval
"POST /drive\n" . ::events_list($::AGO2H, $::INVITE, $::NOW, $::NOW)
--- response_body
401 stale <html>
200 ignored -
200 ok delivery 1 of ev-now
200 duplicate -
--- error_log eval
[qr/\[error\] .*smile webhook rejected request: stale \(createdAt is older than smile_webhook_max_age\), event id "ev-2h-ago"/,
 qr/\[info\] .*smile webhook acknowledged request without forwarding: ignored \(event type is not in smile_webhook_events\), event id "ev-invite"/,
 qr/\[info\] .*smile webhook acknowledged request without forwarding: duplicate \(event id was delivered already\), event id "ev-now"/]
--- no_error_log eval
[qr/\[warn\] .*smile webhook/, "[alert]"]



=== TEST 24: order: the type filter comes first (an unlisted stale event is ignored), max_age before dedupe (a delivered id sent stale is stale); ignored and stale events take no id
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
for my $ev (@{ $d->events }) {
    $d->say($d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
}
$d->print($d->request('GET', '/hits')->{body});
--- request eval
"POST /drive\n" . ::events_list(
    ::fresh_event(id => 'ev-order', type => 'INVITE_INVITED', created_at => -7200),
    ::fresh_event(id => 'ev-order', type => 'INVITE_INVITED'),
    ::fresh_event(id => 'ev-order', created_at => -7200),
    ::fresh_event(id => 'ev-order'),
    ::fresh_event(id => 'ev-order', created_at => -7200),
    ::fresh_event(id => 'ev-order', type => 'INVITE_INVITED'),
    ::fresh_event(id => 'ev-order', created_at => -60))
--- response_body
200 ignored -
200 ignored -
401 stale <html>
200 ok delivery 1 of ev-order
401 stale <html>
200 ignored -
200 duplicate -
ev-order 1
--- no_error_log
[error]



=== TEST 25: spoofed X-Smile-* request headers are stripped from a forwarded event, with every policy on; the app sees only the module's
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- more_headers eval
::hdrs($::NOW, undef, "X-Smile-Event-Id: forged", "X-Smile-Event-Type: LINK_ADDED",
       "X-Smile-Webhook-Result: duplicate", "x-smile-user-id: someone-else",
       "X-Smile-Event-Created-At: 1970-01-01T00:00:00Z", "X-Smile-Extra: 1")
--- request eval
::post($::NOW)
--- response_headers
X-Result: ok
--- response_body eval
::ledger_sees(1, $::NOW)
--- no_error_log
[error]



=== TEST 26: report mode: duplicate, stale and ignored events are forwarded with X-Smile-Webhook-Result and the event headers; a spoofed result header is replaced
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::NOW), ::post($::NOW), ::post($::AGO2H), ::post($::INVITE),
 ::post($::NOTIME), "GET /hits"]
--- more_headers eval
[::hdrs($::NOW, undef, "X-Smile-Webhook-Result: ignored"), ::hdrs($::NOW),
 ::hdrs($::AGO2H), ::hdrs($::INVITE, undef, "X-Smile-Webhook-Result: ok"),
 ::hdrs($::NOTIME), ""]
--- response_headers eval
["X-Result: ok", "X-Result: duplicate", "X-Result: stale", "X-Result: ignored",
 "X-Result: malformed_event", "!X-Result"]
--- response_body eval
[::ledger_sees(1, $::NOW, 'X-Smile-Webhook-Result' => 'ok'),
 ::ledger_sees(2, $::NOW, 'X-Smile-Webhook-Result' => 'duplicate'),
 ::ledger_sees(1, $::AGO2H, 'X-Smile-Webhook-Result' => 'stale'),
 ::ledger_sees(1, $::INVITE, 'X-Smile-Webhook-Result' => 'ignored'),
 "delivery 1 of -\nx-smile-webhook-result: malformed_event\n",
 "- 1\nev-2h-ago 1\nev-invite 1\nev-now 2\n"]
--- no_error_log
[error]



=== TEST 27: report mode: the log lines say what enforcement would have done
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
for my $ev (@{ $d->events }) {
    $d->say($d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
}
--- request eval
"POST /drive\n" . ::events_list($::NOW, $::NOW, $::AGO2H, $::IN1H, $::INVITE)
--- response_body
200 ok delivery 1 of ev-now
200 duplicate delivery 2 of ev-now
200 stale delivery 1 of ev-2h-ago
200 stale delivery 1 of ev-in-1h
200 ignored delivery 1 of ev-invite
--- error_log eval
[qr/\[info\] .*smile webhook would acknowledge \(report mode\) request without forwarding: duplicate \(event id was delivered already\), event id "ev-now", client: 127\.0\.0\.1, server: localhost, request: "POST \/hook HTTP\/1\.0"/,
 qr/\[warn\] .*smile webhook would reject \(report mode\) request: stale \(createdAt is older than smile_webhook_max_age\), event id "ev-2h-ago", client: 127\.0\.0\.1/,
 qr/\[warn\] .*smile webhook would reject \(report mode\) request: stale \(createdAt is in the future by more than the allowed clock skew\), event id "ev-in-1h", client: 127\.0\.0\.1/,
 qr/\[info\] .*smile webhook would acknowledge \(report mode\) request without forwarding: ignored \(event type is not in smile_webhook_events\), event id "ev-invite", client: 127\.0\.0\.1/]
--- no_error_log
[error]
smile webhook rejected
smile webhook acknowledged



=== TEST 28: report mode: a delivery that overlaps one in flight is forwarded too, with in_flight
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
my $ev = $d->events->[0];
my ($first, $second) = $d->overlapping($ev);
$d->say("second: ", $d->line($second));
$d->say("first: ", $d->line($first));
$d->say("third: ", $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
--- request eval
"POST /drive\n" . ::events_list($::NOW)
--- response_body
second: 200 in_flight delivery 2 of ev-now
first: 200 ok delivery 1 of ev-now
third: 200 duplicate delivery 3 of ev-now
--- error_log
smile webhook would reject (report mode) request: in_flight (event id is being delivered by another request), event id "ev-now"
--- no_error_log
[error]



=== TEST 29: config: max_age of 0
--- config
    smile_webhook_max_age 0;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"0" in "smile_webhook_max_age" directive.*}, 'config', 1)



=== TEST 30: config: max_age that is not a time
--- config
    location = /hook {
        smile_webhook_max_age soon;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"soon" in "smile_webhook_max_age" directive.*}, 'config', 2)



=== TEST 31: config: a skew that is not a time
--- http_config
    smile_webhook_max_age 5m skew=later;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{"skew=later" in "smile_webhook_max_age" directive.*}, 'http_config', 1)



=== TEST 32: config: a parameter other than skew=
--- config
    smile_webhook_max_age 5m window=1m;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"window=1m" in "smile_webhook_max_age" directive.*}, 'config', 1)



=== TEST 33: config: "off" with a skew
--- config
    smile_webhook_max_age off skew=1m;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"skew=1m" in "smile_webhook_max_age" directive.*}, 'config', 1)



=== TEST 34: config: smile_webhook_max_age twice at one level
--- config
    smile_webhook_max_age 5m;
    smile_webhook_max_age 10m;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_max_age" directive is duplicate}, 'config', 2)



=== TEST 35: config: smile_webhook_max_age with three parameters
--- config
    smile_webhook_max_age 5m skew=1m skew=2m;
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid number of arguments in "smile_webhook_max_age" directive}, 'config', 1)



=== TEST 36: a forged event (signed with another secret) is bad_signature before any policy: an unlisted type is not ignored, a stale createdAt is not stale, and neither reaches the app (the authentic ones, for contrast, are ignored and stale)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED;
        smile_webhook_max_age 1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::INVITE), ::post($::AGO2H), ::post($::INVITE), ::post($::AGO2H),
 "GET /hits"]
--- more_headers eval
[::hdrs($::INVITE, ::sign($::INVITE, 'another secret')),
 ::hdrs($::AGO2H, ::sign($::AGO2H, 'another secret')),
 ::hdrs($::INVITE), ::hdrs($::AGO2H), ""]
--- error_code eval
[401, 401, 200, 401, 200]
--- response_headers eval
["X-Result: bad_signature", "X-Result: bad_signature", "X-Result: ignored",
 "X-Result: stale", "!X-Result"]
--- response_body eval
[::error_page(401), ::error_page(401), "", ::error_page(401), ""]
--- no_error_log
app received
[error]
