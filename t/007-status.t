# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# smile_webhook_status: Prometheus text with the requests of every
# smile_webhook location by result, authentic events by type, verified body
# bytes and the dedupe zones' entries, evictions and overflows.  The
# counters are shared by the workers and kept across a reload.  GET and
# HEAD only.
#
# Every block runs a master and two workers with "listen ... reuseport":
# each request of a block is a new connection, which the kernel hands to
# either worker, and a block shows that both served requests before it
# checks the totals.  The app is the "ledger" of t/lib/SmileApp.pm; the
# blocks that need overlapping requests or a reload use a "--- driver".
#
# One round per block (repeat_each(1)): the counters live as long as nginx
# (and survive reloads), so a second round on the same nginx would add up
# to other totals.
#
# The # HELP lines' wording is not part of the contract: the exact
# comparisons drop them (response_body_filters), TEST 1 checks that each
# metric has one.

BEGIN { $ENV{TEST_NGINX_REUSE_PORT} = 1 }

use lib 't/lib';
use Test::Nginx::Socket;
use SmileTest qw(:DEFAULT fresh_event);
use SmileApp qw(:DEFAULT :ledger);

repeat_each(1);
master_on();
workers(2);
no_shuffle();
no_long_string();

our @RESULTS = qw(ok ip_denied method_not_allowed missing_signature
                  malformed_signature bad_signature malformed_event stale
                  ignored duplicate in_flight spooled);

# TEST 1: every result line, with 0
our $ZERO_RESULTS = join '', map { qq(smile_webhook_requests_total{result="$_"} 0\n) }
                                 @RESULTS;

# the status text for these totals: result => n, types => [[type, n], ...]
# (in the order the types were first seen), bytes => n, zones => [[name,
# delivered, in_flight, evictions, overflows, spooled], ...]; # HELP lines
# left out
sub status_text {
    my (%t) = @_;
    my $out = "# TYPE smile_webhook_requests_total counter\n";
    for my $r (@RESULTS) {
        $out .= qq(smile_webhook_requests_total{result="$r"} )
                . ($t{$r} || 0) . "\n";
    }
    $out .= "# TYPE smile_webhook_events_total counter\n";
    for my $type (@{ $t{types} || [] }) {
        $out .= qq(smile_webhook_events_total{type="$type->[0]"} $type->[1]\n);
    }
    $out .= "# TYPE smile_webhook_verified_bytes_total counter\n"
            . "smile_webhook_verified_bytes_total " . ($t{bytes} || 0) . "\n";
    my @zones = @{ $t{zones} || [] };
    if (@zones) {
        $out .= "# TYPE smile_webhook_dedupe_entries gauge\n";
        $out .= qq(smile_webhook_dedupe_entries{zone="$_->[0]",state="delivered"} $_->[1]\n)
                . qq(smile_webhook_dedupe_entries{zone="$_->[0]",state="in_flight"} $_->[2]\n)
                . qq(smile_webhook_dedupe_entries{zone="$_->[0]",state="spooled"} ) . ($_->[5] || 0) . "\n"
            for @zones;
        $out .= "# TYPE smile_webhook_dedupe_evictions_total counter\n";
        $out .= qq(smile_webhook_dedupe_evictions_total{zone="$_->[0]"} $_->[3]\n)
            for @zones;
        $out .= "# TYPE smile_webhook_dedupe_overflows_total counter\n";
        $out .= qq(smile_webhook_dedupe_overflows_total{zone="$_->[0]"} $_->[4]\n)
            for @zones;
    }
    return $out;
}

our $DROP_HELP = sub { my $s = shift; $s =~ s/^# HELP .*\n//mg; $s };

# the known sequence of TEST 2
our $E1     = fresh_event(id => 'ev-status-1');
our $E2     = fresh_event(id => 'ev-status-2', type => 'ACCOUNT_CREATED');
our $E3     = fresh_event(id => 'ev-status-3');
our $IGN    = fresh_event(id => 'ev-status-ignored', type => 'LINK_ADDED');
our $OLD    = fresh_event(id => 'ev-status-old', created_at => -7200);
our $NOTIME = fresh_event(id => 'ev-status-no-time', type => 'ACCOUNT_CREATED',
                          created_at => undef);
our $RACE   = fresh_event(id => 'ev-status-race');
our $JUNK   = 'signed, but not an event';

sub chunked {
    my ($body) = @_;
    return sprintf("%x\r\n", length $body) . "$body\r\n0\r\n\r\n";
}

# one request of a sequence: [request, more_headers, status, X-Result (or
# undef: none), response body (a string or a qr//), counted results: [result,
# type or undef, body bytes], ...]
sub ok_step {
    my ($body, $n) = @_;
    my ($type) = $body =~ /"type":"([^"]+)"/;
    return [post($body), hdrs($body), 200, 'ok', ledger_sees($n || 1, $body),
            ['ok', $type, length $body]];
}

sub dup_step {
    my ($body) = @_;
    my ($type) = $body =~ /"type":"([^"]+)"/;
    return [post($body), hdrs($body), 200, 'duplicate', '',
            ['duplicate', $type, length $body]];
}

our @SEQ = (
    ok_step($E1),
    ok_step($E2),
    [post($IGN), hdrs($IGN), 200, 'ignored', '',
     ['ignored', 'LINK_ADDED', length $IGN]],
    [post($OLD), hdrs($OLD), 401, 'stale', error_page(401),
     ['stale', 'USER_CREATED', length $OLD]],
    [post($NOTIME), hdrs($NOTIME), 400, 'malformed_event', error_page(400),
     ['malformed_event', 'ACCOUNT_CREATED', length $NOTIME]],
    [post($JUNK), hdrs($JUNK), 400, 'malformed_event', error_page(400),
     ['malformed_event', undef, length $JUNK]],
    [post($E1), hdrs($E1, sign($E1, 'another secret')), 401, 'bad_signature',
     error_page(401), ['bad_signature', undef, length $E1]],
    [post($E1), "Content-Length: " . length($E1), 401, 'missing_signature',
     error_page(401), ['missing_signature', undef, 0]],
    [post($E1), hdrs($E1, 'abc'), 401, 'malformed_signature',
     error_page(401), ['malformed_signature', undef, 0]],
    ["GET /hook", "Smile-Signature: " . sign(''), 405, 'method_not_allowed',
     error_page(405), ['method_not_allowed', undef, 0]],
    [post($E1, '/denied'), hdrs($E1), 401, 'ip_denied', error_page(401),
     ['ip_denied', undef, 0]],
    ["POST /drive\n" . events_list($RACE), "", 200, undef,
     "second: 409 in_flight\nfirst: 200 ok\n",
     ['ok', 'USER_CREATED', length $RACE],
     ['in_flight', 'USER_CREATED', length $RACE]],
    [post(chunked($E3)),
     "Transfer-Encoding: chunked\nSmile-Signature: " . sign($E3), 200, 'ok',
     ledger_sees(1, $E3), ['ok', 'USER_CREATED', length $E3]],
    (map { dup_step($E1) } 1 .. 8),
    (map { dup_step($E2) } 1 .. 4),
);

# the status text after these steps, with $delivered ids in the zone
sub steps_status {
    my ($delivered, @steps) = @_;
    my (%t, @types, %n);
    for my $c (map { @{$_}[5 .. $#$_] } @steps) {
        my ($result, $type, $bytes) = @$c;
        $t{$result}++;
        $t{bytes} += $bytes;
        if (defined $type) {
            push @types, $type unless $n{$type}++;
        }
    }
    $t{types} = [map { [$_, $n{$_}] } @types];
    $t{zones} = [['events', $delivered, 0, 0, 0]];
    return status_text(%t);
}

# TEST 3: before and after a reload
our @BEFORE = (ok_step($E1), dup_step($E1),
               [post($OLD), hdrs($OLD), 401, 'stale', error_page(401),
                ['stale', 'USER_CREATED', length $OLD]]);
our @AFTER = (ok_step($E2), dup_step($E1));

# TEST 4: 70 types sent in order, one event each: the status has a line for
# each of the first 64 (the slots), the other 6 are counted as __other__
our $CAPPED_TYPES
    = join('', map { qq(smile_webhook_events_total{type="TYPE_$_"} 1\n) } 1 .. 64)
      . qq(smile_webhook_events_total{type="__other__"} 6\n);

add_block_preprocessor(\&with_ledger);

plan tests => repeat_each() * planned_tests();

run_tests();

__DATA__

=== TEST 1: before any request every result line is there with 0, no event type, no dedupe lines without a zone; HEAD works; POST and other methods are 405
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        proxy_pass http://ledger;
    }

    location = /status {
        smile_webhook_status;
    }
--- request eval
["GET /status", "GET /status", "HEAD /status", "POST /status\nx=1",
 "PUT /status\nx=1", "DELETE /status"]
--- error_code eval
[200, 200, 200, 405, 405, 405]
--- response_headers eval
[("Content-Type: text/plain; version=0.0.4; charset=utf-8") x 3,
 ("Content-Type: text/html") x 3]
--- response_body_like eval
[qr/\A(?:# HELP smile_webhook_requests_total \S.*\n)?# TYPE smile_webhook_requests_total counter\n/,
 qr/\A# HELP smile_webhook_requests_total \S.*\n# TYPE smile_webhook_requests_total counter\n\Q$::ZERO_RESULTS\E# HELP smile_webhook_events_total \S.*\n# TYPE smile_webhook_events_total counter\n# HELP smile_webhook_verified_bytes_total \S.*\n# TYPE smile_webhook_verified_bytes_total counter\nsmile_webhook_verified_bytes_total 0\n\z/,
 qr/\A\z/, qr/405 Not Allowed/, qr/405 Not Allowed/, qr/405 Not Allowed/]
--- no_error_log
[error]
[alert]



=== TEST 2: the exact totals after a known sequence of requests served by both workers (# HELP lines filtered out)
--- http_config
    smile_webhook_dedupe_zone events:1m;
    log_format pids $pid;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED ACCOUNT_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        # the worker of every /hook request, for the driver's "workers"
        access_log logs/hook-pids.log pids;
        proxy_pass http://ledger;
    }

    location = /denied {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 10.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /status {
        smile_webhook_status;
    }

--- driver
if ($d->uri eq '/drive?workers') {
    my $log = $d->servroot . '/logs/hook-pids.log';
    open my $fh, '<', $log or die "cannot open $log: $!\n";
    my %pids = map { $_ => 1 } <$fh>;
    $d->say(scalar keys %pids, " workers served /hook");
    return;
}
my ($first, $second) = $d->overlapping($d->events->[0]);
$d->say("second: $second->{status} $second->{headers}{'x-result'}");
$d->say("first: $first->{status} $first->{headers}{'x-result'}");
--- response_body_filters eval
$::DROP_HELP
--- request eval
[(map { $_->[0] } @::SEQ), "GET /drive?workers", "GET /status"]
--- more_headers eval
[(map { $_->[1] } @::SEQ), "", ""]
--- error_code eval
[(map { $_->[2] } @::SEQ), 200, 200]
--- response_headers eval
[(map { defined $_->[3] ? "X-Result: $_->[3]" : "!X-Result" } @::SEQ),
 "!X-Result", "!X-Result"]
--- response_body eval
[(map { $_->[4] } @::SEQ), "2 workers served /hook\n",
 ::steps_status(4, @::SEQ)]
--- no_error_log
[error]
[alert]



=== TEST 3: the counters and the dedupe gauges are kept across a reload (the status after the HUP comes from a worker of the new configuration)
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_events USER_CREATED ACCOUNT_CREATED;
        smile_webhook_max_age 1h;
        smile_webhook_dedupe events;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /status {
        smile_webhook_status;
        add_header X-Pid $pid;
    }
--- driver
$d->hup;
$d->print($d->from_new_worker(sub { $d->request('GET', '/status') })->{body});
--- response_body_filters eval
$::DROP_HELP
--- request eval
[(map { $_->[0] } @::BEFORE), "GET /status", "GET /drive",
 (map { $_->[0] } @::AFTER), "GET /status"]
--- more_headers eval
[(map { $_->[1] } @::BEFORE), "", "", (map { $_->[1] } @::AFTER), ""]
--- error_code eval
[(map { $_->[2] } @::BEFORE), 200, 200, (map { $_->[2] } @::AFTER), 200]
--- response_body eval
[(map { $_->[4] } @::BEFORE), ::steps_status(1, @::BEFORE),
 ::steps_status(1, @::BEFORE), (map { $_->[4] } @::AFTER),
 ::steps_status(2, @::BEFORE, @::AFTER)]
--- no_error_log
[error]
[alert]
[emerg]
--- timeout: 20



=== TEST 4: more than 64 event types: the first 64 types get a line each, the other 6 are counted as __other__ (the status adds up to the number sent)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://ledger;
    }

    location = /status {
        smile_webhook_status;
    }
--- driver
my $events = $d->events;
for my $ev (@$events) {
    my $res = $d->post('/hook', $ev->{body}, $ev->{sig});
    $d->say("$ev->{id}: ", $d->line($res)) if $res->{status} != 200;
}
my $status = $d->status;
my ($lines, $sum) = (0, 0);
while ($status =~ /\nsmile_webhook_events_total\{type="[^"]+"\} (\d+)/g) {
    $lines++;
    $sum += $1;
}
$d->say(scalar @$events, " events sent, $sum counted on $lines lines");
$d->say($1) while $status =~ /\n(smile_webhook_events_total\{[^\n]*)/g;
$d->say($status =~ /\n(smile_webhook_requests_total\{result="ok"\} \d+)/);
--- request eval
"POST /drive\n" . ::events_list(map { ::fresh_event(id => "ev-type-$_", type => "TYPE_$_") } 1 .. 70)
--- response_body eval
"70 events sent, 70 counted on 65 lines\n$::CAPPED_TYPES"
. qq(smile_webhook_requests_total{result="ok"} 70\n)
--- no_error_log
[error]
[alert]



=== TEST 5: config: smile_webhook_status takes no parameter
--- config
    location = /status {
        smile_webhook_status on;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{invalid number of arguments in "smile_webhook_status" directive}, 'config', 2)



=== TEST 6: config: smile_webhook_status is allowed in a location only
--- config
    smile_webhook_status;
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_status" directive is not allowed here}, 'config', 1)



=== TEST 7: config: smile_webhook_status in a location that has a content handler already
--- config
    location = /status {
        proxy_pass http://127.0.0.1:1;
        smile_webhook_status;
    }
--- must_die
--- error_log eval
::conf_error('emerg', qr{"smile_webhook_status" .*}, 'config', 3)
