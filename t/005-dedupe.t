# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# smile_webhook_dedupe: an event id delivered with a 2xx from the app is
# acknowledged (200, empty body) without reaching the app again; an id that
# is being delivered right now, by any worker, is answered 409; a delivery
# that failed in any way (app 5xx, app down, upstream timeout, client gone,
# no upstream at all) leaves no mark, so Smile's retry goes through.  The
# table is shared by the workers, survives a reload, evicts its oldest
# delivered ids when full, and never refuses an event for lack of space.  Configuration errors of
# smile_webhook_dedupe_zone and smile_webhook_dedupe.
#
# The app is the "ledger" of t/lib/SmileApp.pm (it counts the deliveries of
# each id, GET /hits lists them).  Blocks that need requests to overlap, a
# reload, a killed worker or an abort drive them from a "--- driver" (Perl
# code with the $d helpers described there).  Every block runs a master
# and two workers with "listen ... reuseport", so that separate connections
# land on both workers.
#
# One round per block (repeat_each(1)): the blocks count deliveries in a
# dedupe zone and a ledger that live as long as nginx, and a second round
# on the same nginx would find the ids of the first delivered.

BEGIN { $ENV{TEST_NGINX_REUSE_PORT} = 1 }

use lib 't/lib';
use IO::Socket::INET;
use Test::Nginx::Socket;
use SmileTest qw(:DEFAULT fresh_event);
use SmileApp qw(:DEFAULT :ledger);

repeat_each(1);
master_on();
workers(2);
worker_connections(1024);
no_shuffle();
no_long_string();

our $USER    = event_body('01_user_created.json');
our $ACCOUNT = event_body('02_account_created.json');
our $USER_ID = 'et-123abc456def789abc123def456abc78';

our $E1 = fresh_event(id => 'ev-dedupe-1');
our $E2 = fresh_event(id => 'ev-dedupe-2', type => 'ACCOUNT_CREATED');
our $LINGER = fresh_event(id => 'ev-linger');

# An upstream that never answers (TEST 15): a socket of this test process
# that listens and never accepts, so connections complete in its backlog and
# requests wait there, costing nothing, until the client gives up.
our $STUCK = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 1024, ReuseAddr => 1)
    or die "cannot listen: $!";
$ENV{TEST_NGINX_STUCK_PORT} = $STUCK->sockport;

# TEST 15: ids of 128 characters, the longest allowed (the biggest entries)
our @LONG = map { fresh_event(id => sprintf('ev-long-%03d-', $_) . ('x' x 116)) }
                1 .. 400;

# the tiny-zone block: 300 ids in the order they are sent
# (ids as long as Smile's, 35 characters, so that entries have their real
# size: about 180 of them fit in a 32k zone)
our @MANY = map { fresh_event(id => sprintf('ev-evict-%03d-', $_) . ('x' x 22)) }
                1 .. 300;

add_block_preprocessor(\&with_ledger);

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: a delivered id is a duplicate: 200 with an empty body, not forwarded; other ids go through, and the id is what counts (the seed USER_CREATED and ACCOUNT_CREATED share one)
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::E1), ::post($::E1), ::post($::E2), ::post($::USER),
 ::post($::ACCOUNT), ::post($::E2), "GET /hits"]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1), ::hdrs($::E2), ::hdrs($::USER),
 ::hdrs($::ACCOUNT), ::hdrs($::E2), ""]
--- response_headers eval
["X-Result: ok", "X-Result: duplicate\nContent-Length: 0", "X-Result: ok",
 "X-Result: ok", "X-Result: duplicate\nContent-Length: 0",
 "X-Result: duplicate\nContent-Length: 0", "!X-Result"]
--- response_body eval
[::ledger_sees(1, $::E1), "", ::ledger_sees(1, $::E2),
 ::ledger_sees(1, $::USER), "", "",
 "$::USER_ID 1\nev-dedupe-1 1\nev-dedupe-2 1\n"]
--- no_error_log
[error]
[alert]
smile webhook rejected



=== TEST 2: the duplicate is logged at info, once, and the app is reached once
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
my ($body, $sig) = ($d->body, $d->header('Smile-Signature'));
for my $i (1, 2) {
    my $res = $d->post('/hook', $body, $sig);
    $d->say("$i: ", $d->line($res), " (",
            $res->{headers}{'content-length'}, " bytes)");
}
--- more_headers eval
::hdrs($::E1)
--- request eval
::post($::E1, "/drive")
--- response_body eval
"1: 200 ok delivery 1 of ev-dedupe-1 ("
. length(::ledger_sees(1, $::E1)) . " bytes)
2: 200 duplicate - (0 bytes)
"
--- grep_error_log eval
qr/app received \S+|smile webhook [a-z ]+: \w+/
--- grep_error_log_out
app received ev-dedupe-1
smile webhook acknowledged request without forwarding: duplicate
--- error_log eval
::acknowledged("duplicate", "event id was delivered already", "ev-dedupe-1",
               proto => "HTTP/1.0")
--- no_error_log
[error]
[alert]
smile webhook rejected



=== TEST 3: the app answered 503: no mark, the retry reaches the app; once it answers 200 the next one is a duplicate
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::E1, "/hook?status=503"), ::post($::E1, "/hook?status=503"),
 ::post($::E1), ::post($::E1), "GET /hits"]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1), ::hdrs($::E1), ::hdrs($::E1), ""]
--- error_code eval
[503, 503, 200, 200, 200]
--- response_headers eval
["X-Result: ok", "X-Result: ok", "X-Result: ok",
 "X-Result: duplicate\nContent-Length: 0", "!X-Result"]
--- response_body eval
[::ledger_sees(1, $::E1), ::ledger_sees(2, $::E1), ::ledger_sees(3, $::E1),
 "", "ev-dedupe-1 3\n"]
--- no_error_log
[error]
[alert]
smile webhook rejected



=== TEST 4: the app is down (connection refused, 502): no mark, the retry reaches the app once it is back
--- http_config
    smile_webhook_dedupe_zone events:1m;

    upstream down {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    map $arg_down $app {
        default ledger;
        1       down;
    }
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        add_header X-Upstream-Status $upstream_status always;
        proxy_pass http://$app;
    }
--- request eval
[::post($::E1, "/hook?down=1"), ::post($::E1, "/hook?down=1"),
 ::post($::E1), ::post($::E1), "GET /hits"]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1), ::hdrs($::E1), ::hdrs($::E1), ""]
--- error_code eval
[502, 502, 200, 200, 200]
--- response_headers eval
["X-Result: ok\nX-Upstream-Status: 502", "X-Result: ok\nX-Upstream-Status: 502",
 "X-Result: ok\nX-Upstream-Status: 200",
 "X-Result: duplicate\nContent-Length: 0\n!X-Upstream-Status", "!X-Result"]
--- response_body_like eval
["502 Bad Gateway", "502 Bad Gateway", "^delivery 1 of ev-dedupe-1\n", "^\\z",
 "^ev-dedupe-1 1\n\\z"]
--- no_error_log
[alert]
smile webhook rejected



=== TEST 5: the upstream timed out (504) while the app still held the event: no mark, the retry reaches the app
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_read_timeout 1s;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::E1, "/hook?hold=1"), "GET /release?id=ev-dedupe-1",
 ::post($::E1), ::post($::E1), "GET /hits"]
--- more_headers eval
[::hdrs($::E1), "", ::hdrs($::E1), ::hdrs($::E1), ""]
--- error_code eval
[504, 200, 200, 200, 200]
--- response_headers eval
["X-Result: ok", "!X-Result", "X-Result: ok",
 "X-Result: duplicate\nContent-Length: 0", "!X-Result"]
--- response_body_like eval
["504 Gateway Time-out", "^released ev-dedupe-1\n\\z",
 "^delivery 2 of ev-dedupe-1\n", "^\\z", "^ev-dedupe-1 2\n\\z"]
--- no_error_log
[alert]
smile webhook rejected
--- timeout: 10



=== TEST 6: two concurrent deliveries of one id: the second is answered 409 while the first is in the app, which sees it once; then it is a duplicate
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
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
$d->print("409 page: ", $second->{body});
--- request eval
"POST /drive\n" . ::events_list($::E1)
--- response_body eval
"second: 409 in_flight <html>
first: 200 ok delivery 1 of ev-dedupe-1
third: 200 duplicate -
409 page: <html>\r
<head><title>409 Conflict</title></head>\r
<body>\r
<center><h1>409 Conflict</h1></center>\r
<hr><center>nginx</center>\r
</body>\r
</html>\r
"
--- grep_error_log eval
qr/app received \S+|smile webhook [a-z ]+: \w+/
--- grep_error_log_out
app received ev-dedupe-1
smile webhook rejected request: in_flight
smile webhook acknowledged request without forwarding: duplicate
--- error_log eval
qr/\[warn\] \d+#\d+: \*\d+ smile webhook rejected request: in_flight \(event id is being delivered by another request\), event id "ev-dedupe-1", client: 127\.0\.0\.1, server: localhost, request: "POST \/hook HTTP\/1\.0"/
--- no_error_log
[error]
[alert]



=== TEST 7: in_flight holds across workers: overlapping deliveries served by the same worker and by two different workers are both answered 409
Each attempt uses a new id; attempts go on until both cases were seen
(reuseport spreads the connections over the two workers).
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        add_header X-Pid $pid always;
        proxy_pass http://ledger;
    }
--- driver
my $events = $d->events;
my %seen;
for my $i (1 .. @$events) {
    my $ev = $events->[$i - 1];
    my ($res, $second) = $d->overlapping($ev);
    my $case = $res->{headers}{'x-pid'} eq $second->{headers}{'x-pid'}
               ? 'same worker' : 'two workers';
    my $hits = $d->hits($ev->{id});
    if ($d->line($res) ne "200 ok delivery 1 of $ev->{id}"
        || $d->line($second) ne '409 in_flight <html>' || $hits != 1)
    {
        $d->say("attempt $i ($case): first ", $d->line($res), ", second ",
                $d->line($second), ", app deliveries $hits");
        return;
    }
    $seen{$case} = 1;
    if ($seen{'same worker'} && $seen{'two workers'}) {
        $d->say("409 in_flight with the same worker and with two workers");
        return;
    }
}
$d->say("not both cases in ", scalar @$events, " attempts");
--- request eval
"POST /drive\n"
. ::events_list(map { ::fresh_event(id => "ev-race-$_") } 1 .. 40)
--- response_body
409 in_flight with the same worker and with two workers
--- error_log
smile webhook rejected request: in_flight (event id is being delivered by another request)
--- no_error_log
[error]
[alert]



=== TEST 8: a request that ends without any upstream (a 200 from a named location, no proxy) leaves no mark: the next delivery is handled again
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        # no file html/hook: the static module's 404 goes to @here
        log_not_found off;
        error_page 404 =200 @here;
    }

    location @here {
        add_header X-Result $smile_webhook_result always;
        return 200 "handled here: $http_x_smile_event_id\n";
    }
--- request eval
[::post($::E1), ::post($::E1)]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1)]
--- response_headers eval
["X-Result: ok", "X-Result: ok"]
--- response_body eval
["handled here: ev-dedupe-1\n", "handled here: ev-dedupe-1\n"]
--- no_error_log
[error]
[alert]
smile webhook acknowledged



=== TEST 9: the last upstream answer decides: a refused first server and a 200 from the backup ("502, 200") is a delivery
--- http_config
    smile_webhook_dedupe_zone events:1m;

    upstream flaky {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server unix:$TEST_NGINX_SMILE_APPS/ledger.sock backup;
    }
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        add_header X-Upstream-Status $upstream_status always;
        proxy_pass http://flaky;
    }
--- request eval
[::post($::E1), ::post($::E1), "GET /hits"]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1), ""]
--- response_headers eval
["X-Result: ok\nX-Upstream-Status: 502, 200",
 "X-Result: duplicate\n!X-Upstream-Status", "!X-Result"]
--- response_body eval
[::ledger_sees(1, $::E1), "", "ev-dedupe-1 1\n"]
--- no_error_log
[alert]
smile webhook rejected



=== TEST 10: the last upstream answer decides: the app's 503 turned into a 200 by error_page is not a delivery
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_intercept_errors on;
        error_page 503 = @accepted;
        proxy_pass http://ledger;
    }

    location @accepted {
        add_header X-Upstream-Status $upstream_status always;
        return 200 "accepted anyway\n";
    }
--- request eval
[::post($::E1, "/hook?status=503"), ::post($::E1), ::post($::E1), "GET /hits"]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1), ::hdrs($::E1), ""]
--- response_headers eval
["X-Upstream-Status: 503", "X-Result: ok", "X-Result: duplicate", "!X-Result"]
--- response_body eval
["accepted anyway\n", ::ledger_sees(2, $::E1), "", "ev-dedupe-1 2\n"]
--- no_error_log
[error]
[alert]
smile webhook rejected



=== TEST 11: the client gave up while the app held the event: once nginx has ended that request the retry reaches the app
The retry is repeated while it is answered 409 (nginx has not noticed the
closed connection yet); it must go through within the helpers' 120 s.
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
my ($body, $sig) = ($d->body, $d->header('Smile-Signature'));
my $sock = $d->start_post('/hook?hold=1', $body, $sig);
$d->wait_holding('ev-dedupe-1');
close $sock;
my ($res, $tries) = (undef, 0);
my $deadline = time + 120;
do {
    $d->sleep(0.01) if $tries++;
    $res = $d->post('/hook', $body, $sig);
} until $res->{status} != 409 || time > $deadline;
$d->say("retry: ", $d->line($res));
$d->release('ev-dedupe-1');
$d->say("again: ", $d->line($d->post('/hook', $body, $sig)));
--- more_headers eval
::hdrs($::E1)
--- request eval
::post($::E1, "/drive")
--- response_body
retry: 200 ok delivery 2 of ev-dedupe-1
again: 200 duplicate -
--- error_log
client prematurely closed connection
--- no_error_log
[error]
[alert]



=== TEST 12: the table survives a reload: delivered before the HUP, a duplicate for a worker of the new configuration
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        add_header X-Pid $pid always;
        proxy_pass http://ledger;
    }
--- driver
my ($body, $sig) = ($d->body, $d->header('Smile-Signature'));
$d->say("before the reload: ", $d->line($d->post('/hook', $body, $sig)));
$d->hup;
my $res = $d->from_new_worker(sub { $d->post('/hook', $body, $sig) });
$d->say("after the reload: ", $d->line($res));
$d->say("app deliveries: ", $d->hits('ev-dedupe-1'));
--- more_headers eval
::hdrs($::E1)
--- request eval
::post($::E1, "/drive")
--- response_body
before the reload: 200 ok delivery 1 of ev-dedupe-1
after the reload: 200 duplicate -
app deliveries: 1
--- no_error_log
[error]
[alert]
[emerg]
smile webhook rejected
--- timeout: 20



=== TEST 13: a reload that changes the zone's size starts an empty table (same name and size are what keep it)
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        add_header X-Pid $pid always;
        proxy_pass http://ledger;
    }
--- driver
my ($body, $sig) = ($d->body, $d->header('Smile-Signature'));
$d->say("before the reload: ", $d->line($d->post('/hook', $body, $sig)));
$d->edit_conf('dedupe_zone events:1m;' => 'dedupe_zone events:2m;');
$d->hup;
for (1, 2) {
    my $res = $d->from_new_worker(sub { $d->post('/hook', $body, $sig) });
    $d->say("after the reload: ", $d->line($res));
}
--- more_headers eval
::hdrs($::E1)
--- request eval
::post($::E1, "/drive")
--- response_body
before the reload: 200 ok delivery 1 of ev-dedupe-1
after the reload: 200 ok delivery 2 of ev-dedupe-1
after the reload: 200 duplicate -
--- no_error_log
[error]
[alert]
[emerg]
--- timeout: 20



=== TEST 14: a 32k zone keeps accepting new events: 300 ids all reach the app, the oldest are evicted (the first id is delivered again), the newest is still a duplicate
The ids are sent by a driver (one request of the block, so that the error
log is not read 300 times); it stops at the first unexpected answer.
--- http_config
    smile_webhook_dedupe_zone tiny:32k;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe tiny;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /status {
        smile_webhook_status;
    }
--- driver
my $events = $d->events;
for my $ev (@$events) {
    my $line = $d->line($d->post('/hook', $ev->{body}, $ev->{sig}));
    if ($line ne "200 ok delivery 1 of $ev->{id}") {
        $d->say("$ev->{id}: $line");
        return;
    }
}
$d->say(scalar @$events, " ids: 200 ok delivery 1");
my ($first, $last) = ($events->[0], $events->[-1]);
$d->say("first again: ",
        $d->line($d->post('/hook', $first->{body}, $first->{sig})));
$d->say("last again: ",
        $d->line($d->post('/hook', $last->{body}, $last->{sig})));
my $status = $d->status;
my ($delivered) = $status
    =~ /smile_webhook_dedupe_entries\{zone="tiny",state="delivered"\} (\d+)/;
my ($evicted) = $status
    =~ /smile_webhook_dedupe_evictions_total\{zone="tiny"\} (\d+)/;
$d->say("delivered + evicted: ", $delivered + $evicted);
$d->print($status);
--- request eval
"POST /drive\n" . ::events_list(@::MANY)
--- response_body_like eval
qr/\A300 ids: 200 ok delivery 1
first again: 200 ok delivery 2 of ev-evict-001-xxxxxxxxxxxxxxxxxxxxxx
last again: 200 duplicate -
delivered \+ evicted: 301
.*^smile_webhook_dedupe_entries\{zone="tiny",state="delivered"\} [1-9]\d*
smile_webhook_dedupe_entries\{zone="tiny",state="in_flight"\} 0
.*^smile_webhook_dedupe_evictions_total\{zone="tiny"\} [1-9]\d*
.*^smile_webhook_dedupe_overflows_total\{zone="tiny"\} 0
\z/ms
--- no_error_log
[error]
[alert]
is full
smile webhook rejected
--- timeout: 60



=== TEST 15: a 32k zone full of ids in flight: a new event is forwarded without dedupe (warn, overflows counted), and dedupe works again once the ids are released
In-flight ids cannot be evicted.  The driver sends events with 128-character
ids to /stuck (an upstream that never answers) one by one, each time until
the status counts it, and stops when one overflowed.  Closing those client
connections ends the requests and releases their ids.
--- http_config
    smile_webhook_dedupe_zone tiny:32k;

    upstream stuck {
        server 127.0.0.1:$TEST_NGINX_STUCK_PORT;
    }
--- config
    smile_webhook_secret "a little secret";
    smile_webhook_allow 127.0.0.1;
    smile_webhook_dedupe tiny;

    location = /hook {
        smile_webhook on;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /stuck {
        smile_webhook on;
        proxy_read_timeout 10m;
        proxy_send_timeout 10m;
        proxy_pass http://stuck;
    }

    location = /status {
        smile_webhook_status;
    }
--- driver
my $status = sub {
    my $s = $d->status;
    my ($in_flight) = $s =~ /state="in_flight"\} (\d+)/;
    my ($overflows) = $s =~ /overflows_total\{zone="tiny"\} (\d+)/;
    my ($delivered) = $s =~ /state="delivered"\} (\d+)/;
    return ($in_flight, $overflows, $delivered);
};
my @events = @{ $d->events };
my $last = pop @events;
my (@socks, $in_flight, $overflows);
for my $i (1 .. @events) {
    my $ev = $events[$i - 1];
    push @socks, $d->start_post('/stuck', $ev->{body}, $ev->{sig});
    my $deadline = time + 120;
    while (1) {
        ($in_flight, $overflows) = $status->();
        last if $in_flight + $overflows == $i || time > $deadline;
        $d->sleep(0.01);
    }
    last if $overflows > 0;
}
$d->say("full: ", $in_flight > 50 ? "more than 50" : $in_flight,
        " ids in flight, overflows $overflows");
$d->say($d->line($d->post('/hook', $last->{body}, $last->{sig})));
$d->say($d->line($d->post('/hook', $last->{body}, $last->{sig})));
my (undef, $overflows2) = $status->();
$d->say("overflows ", $overflows2 - $overflows);
close $_ for @socks;
my $deadline = time + 120;
do {
    $d->sleep(0.01);
    ($in_flight) = $status->();
} until $in_flight == 0 || time > $deadline;
$d->say("released: $in_flight in flight");
$d->say($d->line($d->post('/hook', $last->{body}, $last->{sig})));
$d->say($d->line($d->post('/hook', $last->{body}, $last->{sig})));
my (undef, undef, $delivered) = $status->();
$d->say("delivered $delivered");
--- request eval
"POST /drive\n" . ::events_list(@::LONG)
--- response_body eval
my $id = 'ev-long-400-' . ('x' x 116);
"full: more than 50 ids in flight, overflows 1
200 ok delivery 1 of $id
200 ok delivery 2 of $id
overflows 2
released: 0 in flight
200 ok delivery 3 of $id
200 duplicate -
delivered 1
"
--- error_log eval
qr/\[warn\] .*smile webhook dedupe zone "tiny" is full, event id "ev-long-400-x{116}" is forwarded without dedupe/
--- no_error_log
[alert]
[crit]
--- timeout: 120



=== TEST 16: ttl: a delivered id is a duplicate within its ttl and is delivered again after it
--- http_config
    smile_webhook_dedupe_zone events:1m ttl=3s;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
my ($body, $sig) = ($d->body, $d->header('Smile-Signature'));
$d->say($d->line($d->post('/hook', $body, $sig)));
$d->say($d->line($d->post('/hook', $body, $sig)));
$d->sleep(4.5);
$d->say($d->line($d->post('/hook', $body, $sig)));
$d->say($d->line($d->post('/hook', $body, $sig)));
--- more_headers eval
::hdrs($::E1)
--- request eval
::post($::E1, "/drive")
--- response_body
200 ok delivery 1 of ev-dedupe-1
200 duplicate -
200 ok delivery 2 of ev-dedupe-1
200 duplicate -
--- no_error_log
[error]
[alert]
--- timeout: 20



=== TEST 17: inheritance: smile_webhook_dedupe at server level applies to a location, "off" in a nested location turns it off, another zone in another location is a separate table
--- http_config
    smile_webhook_dedupe_zone events:1m;
    smile_webhook_dedupe_zone other:1m;
--- config
    smile_webhook_dedupe events;

    location /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;

        location /hook/no-dedupe {
            smile_webhook_dedupe off;
            add_header X-Result $smile_webhook_result always;
            proxy_pass http://ledger;
        }

        location /hook/other {
            smile_webhook_dedupe other;
            add_header X-Result $smile_webhook_result always;
            proxy_pass http://ledger;
        }
    }
--- request eval
[::post($::E1, "/hook"), ::post($::E1, "/hook"),
 ::post($::E1, "/hook/no-dedupe"), ::post($::E1, "/hook/no-dedupe"),
 ::post($::E1, "/hook/other"), ::post($::E1, "/hook/other"), "GET /hits"]
--- more_headers eval
[(map { ::hdrs($::E1) } 1 .. 6), ""]
--- response_headers eval
["X-Result: ok", "X-Result: duplicate", "X-Result: ok", "X-Result: ok",
 "X-Result: ok", "X-Result: duplicate", "!X-Result"]
--- response_body eval
[::ledger_sees(1, $::E1), "", ::ledger_sees(2, $::E1), ::ledger_sees(3, $::E1),
 ::ledger_sees(4, $::E1), "", "ev-dedupe-1 4\n"]
--- no_error_log
[error]
[alert]



=== TEST 18: the zone may be defined after the directives that use it
--- http_config
    smile_webhook_dedupe events;
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- request eval
[::post($::E1), ::post($::E1)]
--- more_headers eval
[::hdrs($::E1), ::hdrs($::E1)]
--- response_headers eval
["X-Result: ok", "X-Result: duplicate"]
--- response_body eval
[::ledger_sees(1, $::E1), ""]
--- no_error_log
[error]
[emerg]



=== TEST 19: config: a zone smaller than 32k
--- http_config
    smile_webhook_dedupe_zone events:16k;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{zone "events:16k" is too small in "smile_webhook_dedupe_zone" directive, it must be at least 32k}, 'http_config', 1)



=== TEST 20: config: a zone without a size
--- http_config
    smile_webhook_dedupe_zone events;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid zone "events" in "smile_webhook_dedupe_zone" directive, it must be NAME:SIZE}, 'http_config', 1)



=== TEST 21: config: a zone without a name
--- http_config
    smile_webhook_dedupe_zone :1m;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid zone ":1m" in "smile_webhook_dedupe_zone" directive, it must be NAME:SIZE}, 'http_config', 1)



=== TEST 22: config: a zone size that is not a size
--- http_config
    smile_webhook_dedupe_zone events:lots;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{"events:lots".* in "smile_webhook_dedupe_zone" directive.*}, 'http_config', 1)



=== TEST 23: config: a ttl of 0
--- http_config
    smile_webhook_dedupe_zone events:1m ttl=0;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid ttl "ttl=0" in "smile_webhook_dedupe_zone" directive, .*}, 'http_config', 1)



=== TEST 24: config: a ttl that is not a time
--- http_config
    smile_webhook_dedupe_zone events:1m ttl=soon;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid ttl "ttl=soon" in "smile_webhook_dedupe_zone" directive, .*}, 'http_config', 1)



=== TEST 25: config: a parameter other than ttl=
--- http_config
    smile_webhook_dedupe_zone events:1m size=2m;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{"size=2m" in "smile_webhook_dedupe_zone" directive.*}, 'http_config', 1)



=== TEST 26: config: one zone defined twice
--- http_config
    smile_webhook_dedupe_zone events:1m;
    smile_webhook_dedupe_zone other:1m;
    smile_webhook_dedupe_zone events:1m ttl=1h;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{duplicate zone "events" in "smile_webhook_dedupe_zone" directive}, 'http_config', 3)



=== TEST 27: config: smile_webhook_dedupe_zone is allowed at http level only
--- config
    smile_webhook_dedupe_zone events:1m;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_dedupe_zone" directive is not allowed here}, 'config', 1)



=== TEST 28: config: a zone that is never defined, used in a location
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_dedupe evnets;
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{unknown zone "evnets" in "smile_webhook_dedupe" directive}, 'config', 4, after => qr{, it must be defined by "smile_webhook_dedupe_zone"})



=== TEST 29: config: a zone that is never defined, used at http level
--- http_config
    smile_webhook_dedupe events;
--- config
--- must_die
--- error_log eval
::conf_error('emerg', qr{unknown zone "events" in "smile_webhook_dedupe" directive}, 'http_config', 1, after => qr{, it must be defined by "smile_webhook_dedupe_zone"})



=== TEST 30: config: smile_webhook_dedupe twice in one location
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook_dedupe events;
        smile_webhook_dedupe off;
        return 204;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_dedupe" directive is duplicate}, 'config', 3)



=== TEST 31: config: smile_webhook_dedupe without a zone
--- config
    smile_webhook_dedupe;
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid number of arguments in "smile_webhook_dedupe" directive}, 'config', 1)



=== TEST 32: the id is settled when the answer goes out: with lingering close, a client that has its 200 but keeps the socket open sees its next delivery as a duplicate at once
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        lingering_close always;
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
my $ev = $d->events->[0];
my $sock = $d->start_post('/hook', $ev->{body}, $ev->{sig});
$d->say("first: ", $d->read_line($sock));
# nginx lingers on the connection until this socket closes
my $res = $d->post('/hook', $ev->{body}, $ev->{sig});
$d->say("again, first socket still open: ", $d->line($res));
close $sock;
--- request eval
"POST /drive\n" . ::events_list($::LINGER)
--- response_body
first: HTTP/1.1 200 OK
again, first socket still open: 200 duplicate -
--- no_error_log
[error]
[alert]



=== TEST 33: a worker killed while its request holds an id in flight: the next delivery finds the process gone, takes the id over and reaches the app
Attempts go on until the held request is in a worker other than the one
running the driver; that worker gets SIGKILL.  The master logs the kill
at alert level, so this block does not check for alerts.
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_set_header X-Front-Pid $pid;
        proxy_pass http://ledger;
    }
--- driver
for my $ev (@{ $d->events }) {
    my $sock = $d->start_post('/hook?hold=1', $ev->{body}, $ev->{sig});
    $d->wait_holding($ev->{id});
    my $pid = $d->held_by($ev->{id});

    if ($pid != $d->front_pid) {
        $d->kill_worker($pid);
        $d->say("after the kill: ",
                $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
        $d->say("again: ",
                $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
        $d->release($ev->{id});
        close $sock;
        return;
    }

    # held by the worker that proxies this driver's own request: killing
    # it would end that request too; give up this id, try another
    $d->release($ev->{id});
    close $sock;
}
$d->say("every held request was in the driver's worker");
--- request eval
"POST /drive\n"
. ::events_list(map { ::fresh_event(id => "ev-killed-$_") } 1 .. 40)
--- response_body_like eval
qr/\Aafter the kill: 200 ok delivery 2 of ev-killed-\d+\nagain: 200 duplicate -\n\z/
--- error_log eval
qr/smile webhook event id "ev-killed-\d+" was in flight in process \d+, which has exited; delivering it again/
--- no_error_log
[error]
[crit]



=== TEST 34: a forged delivery (signed with another secret) of an id is bad_signature, whatever the table holds: before the id is known (not ok), while it is in flight (not 409) and once it is delivered (not a duplicate); it never takes the id
The driver posts each event body with its forged signature (X-Forged, in
the order of the events) and with its real one.
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }
--- driver
my ($ev, $ev2) = @{ $d->events };
my @forged = split ' ', $d->header('X-Forged');
$d->say("forged, unknown id: ",
        $d->line($d->post('/hook', $ev2->{body}, $forged[1])));
$d->say("real, after it: ",
        $d->line($d->post('/hook', $ev2->{body}, $ev2->{sig})));
my $first = $d->start_post('/hook?hold=1', $ev->{body}, $ev->{sig});
$d->wait_holding($ev->{id});
$d->say("forged, in flight: ",
        $d->line($d->post('/hook', $ev->{body}, $forged[0])));
$d->say("real, in flight: ",
        $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
$d->release($ev->{id});
$d->say("real, held: ", $d->line($d->receive($first)));
$d->say("forged, delivered: ",
        $d->line($d->post('/hook', $ev->{body}, $forged[0])));
$d->say("real, delivered: ",
        $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
$d->print($d->request('GET', '/hits')->{body});
--- more_headers eval
"X-Forged: " . ::sign($::E1, 'another secret') . " "
. ::sign($::E2, 'another secret')
--- request eval
"POST /drive\n" . ::events_list($::E1, $::E2)
--- response_body
forged, unknown id: 401 bad_signature <html>
real, after it: 200 ok delivery 1 of ev-dedupe-2
forged, in flight: 401 bad_signature <html>
real, in flight: 409 in_flight <html>
real, held: 200 ok delivery 1 of ev-dedupe-1
forged, delivered: 401 bad_signature <html>
real, delivered: 200 duplicate -
ev-dedupe-1 1
ev-dedupe-2 1
--- grep_error_log eval
qr/app received \S+|smile webhook [a-z ]+: \w+/
--- grep_error_log_out
smile webhook rejected request: bad_signature
app received ev-dedupe-2
app received ev-dedupe-1
smile webhook rejected request: bad_signature
smile webhook rejected request: in_flight
smile webhook rejected request: bad_signature
smile webhook acknowledged request without forwarding: duplicate
--- no_error_log
[error]
[alert]



=== TEST 35: a worker killed while its request holds an id in flight, its pid then given to another process (of root, then of another user): the next delivery takes the id over, it is not refused as in flight
The killed worker's pid is handed to a new "sleep" through
/proc/sys/kernel/ns_last_pid (root only; the block is skipped where that
file cannot be written).  The holder's pid then names a live process that
is not the holder: a process of the same user (kill(pid, 0) succeeds; only
the start time tells) and one of another user (kill() fails with EPERM).
Before the kill, ns_last_pid is moved to the worker's pid so that the
master's new worker gets another pid.
--- skip_eval
1: ! -w "/proc/sys/kernel/ns_last_pid"
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_set_header X-Front-Pid $pid;
        proxy_pass http://ledger;
    }
--- driver
my @takers = (['exec sleep 20', 'root'],
              ['exec setpriv --reuid=65534 --regid=65534 --clear-groups '
               . 'sleep 20', 'another user']);
my $done = 0;

my $set_last_pid = sub {
    open my $fh, '>', '/proc/sys/kernel/ns_last_pid'
        or die "cannot write ns_last_pid: $!\n";
    print $fh $_[0];
    close $fh;
};

my $read = sub {
    open my $fh, '<', $_[0] or return undef;
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
};

# the 22nd field of /proc/PID/stat (the start time), or undef
my $start_of = sub {
    my $s = $read->("/proc/$_[0]/stat");
    return undef unless defined $s;
    return (split ' ', substr($s, rindex($s, ')') + 2))[19];
};

my $owner_of = sub {
    my ($uid) = ($read->("/proc/$_[0]/status") // '') =~ /\nUid:\s+(\d+)/;
    return defined $uid && $uid eq '0' ? 'root' : 'another user';
};

# a new process with this pid, running sleep (the command execs it, as
# root or after dropping root): the handle of the command, or undef
my $give = sub {
    my ($pid, $cmd) = @_;
    for (1 .. 50) {
        $set_last_pid->($pid - 1);
        my $child = open my $p, '-|', $cmd or die "cannot run $cmd: $!\n";
        if ($child == $pid) {
            # the sleep itself (argv[0]), not setpriv before it dropped root
            my $deadline = time + 5;
            until (($read->("/proc/$pid/cmdline") // '') =~ /^sleep/) {
                die "$cmd did not start sleep\n" if time > $deadline;
                $d->sleep(0.01);
            }
            return $p;
        }
        # another pid: stop it (close would wait for the sleep)
        kill 'KILL', $child;
        close $p;
    }
    return undef;
};

for my $ev (@{ $d->events }) {
    my $sock = $d->start_post('/hook?hold=1', $ev->{body}, $ev->{sig});
    $d->wait_holding($ev->{id});
    my $pid = $d->held_by($ev->{id});

    if ($pid == $d->front_pid) {
        # held by the worker that proxies this driver's own request: try
        # another id
        $d->release($ev->{id});
        close $sock;
        next;
    }

    # until the master has reaped the worker and started its successor
    # (which then cannot take the pid meant for the sleep)
    my $old = $start_of->($pid);
    my $workers = () = $d->workers;
    $set_last_pid->($pid);
    kill 'KILL', $pid or die "kill -9 $pid failed: $!\n";
    my $deadline = time + 60;
    while (($start_of->($pid) // '') eq $old
           || (() = $d->workers) != $workers)
    {
        die "worker $pid still there, or not replaced\n" if time > $deadline;
        $d->sleep(0.01);
    }

    my $p = $give->($pid, $takers[$done++][0]);
    my $now = $start_of->($pid);
    $d->say("pid ", defined $now && $now ne $old ? "taken by another process"
                                                 : "free",
            ", owned by ", $owner_of->($pid));
    $d->say("after the kill: ",
            $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));
    $d->say("again: ", $d->line($d->post('/hook', $ev->{body}, $ev->{sig})));

    if ($p) {
        kill 'KILL', $pid;
        close $p;
    }
    $d->release($ev->{id});
    close $sock;
    return if $done == @takers;
}
$d->say("not enough held requests outside the driver's worker");
--- request eval
"POST /drive\n"
. ::events_list(map { ::fresh_event(id => "ev-reused-$_") } 1 .. 60)
--- response_body_like eval
qr/\Apid taken by another process, owned by root\nafter the kill: 200 ok delivery 2 of ev-reused-\d+\nagain: 200 duplicate -\npid taken by another process, owned by another user\nafter the kill: 200 ok delivery 2 of ev-reused-\d+\nagain: 200 duplicate -\n\z/
--- error_log eval
qr/smile webhook event id "ev-reused-\d+" was in flight in process \d+, which has exited; delivering it again/
--- no_error_log
[error]
[crit]
--- timeout: 60
