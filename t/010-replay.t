# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# smile_webhook_spool, the replayer: spooled events reach the app once it
# is back, with X-Smile-Delivery-Attempt, the original body and signature,
# none of the client's X-Smile-* headers; back-off while it stays away;
# dedupe (a spooled id is neither forwarded nor stored twice; after the
# replay, "duplicate"); a reload, a restart, a worker killed mid-write and
# the cache manager killed mid-replay lose nothing; dead/ after keep; a
# tmp-* file is never replayed; bodies in a temporary file and chunked
# bodies; the status metrics after a known sequence.
#
# The app is stock nginx (t/lib/SmileSpool.pm): a master, one worker, and
# the cache manager, where the replayer runs.  Short retry and keep times;
# "--- after_response" code waits for what the replayer does.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use SmileTest qw(:DEFAULT fresh_event);
use SmileApp qw(post hdrs);
use SmileSpool;
use POSIX qw(floor);
use Time::HiRes qw(time sleep);

master_on();
workers(1);
no_shuffle();
no_long_string();
check_accum_error_log();
add_block_preprocessor(\&with_spool_app);

# the lines of the error log that match, in order, as [time, pid, line]
sub errlog_lines {
    my ($re) = @_;
    my @r;
    for my $l (split /\n/, errlog()) {
        next unless $l =~ $re;
        my ($h, $m, $s) = $l =~ /^\S+ (\d\d):(\d\d):(\d\d) /;
        my ($pid) = $l =~ /\] (\d+)#/;
        push @r, [$h * 3600 + $m * 60 + $s, $pid, $l];
    }
    return @r;
}

# errlog_lines() once there are $n of them (3 s at most): the replayer
# logs right after it removed or renamed the file
sub errlog_wait {
    my ($re, $n) = @_;
    wait_for(3, sub { errlog_lines($re) >= ($n // 1) });
    return errlog_lines($re);
}

# waits until the spool has no event file (the replayer took them all)
sub spool_empties {
    my ($seconds) = @_;
    return wait_for($seconds, sub { !events_in() });
}

# the app log as "ID STATUS attempt=N" lines
sub deliveries {
    return join '', map { "$_->{id} $_->{status} attempt=$_->{attempt}\n" } @_;
}

our $BACK   = fresh_event(id => 'ev-replay-back');
our $BACKOFF = fresh_event(id => 'ev-replay-backoff');
our $DEDUPE = fresh_event(id => 'ev-replay-dedupe');
our $RELOAD  = fresh_event(id => 'ev-replay-reload');
our $TOKEN   = fresh_event(id => 'ev-replay-token');
our $RESTART = fresh_event(id => 'ev-replay-restart');
our $KILLED  = fresh_event(id => 'ev-replay-killed');
our $MIDREPLAY = fresh_event(id => 'ev-replay-midreplay');
our $WKREPLAY = fresh_event(id => 'ev-replay-worker');

# TEST 8: the app made slow, the cache manager killed while a replay waits
# for the app, then the app back
sub cache_manager_killed {
    stuck_drain();
    app_mode('slow');
    ok(stuck_accept(6), tname("a replay is in the app, waiting"));
    my $cm = cache_manager_pid();
    kill 'KILL', $cm;
    ok(wait_for(5, sub { my $n = cache_manager_pid(); $n && $n != $cm }),
       tname("the master started another cache manager"));
    sleep 0.5;
    app_mode('up');
    stuck_drain();
    ok(spool_empties(8), tname("the file is removed"));
    sleep 1;
    my @app = app_log();
    is(scalar(grep { $_->{status} =~ /^2/ } @app), 1,
       tname("one delivery answered 2xx"));
    is(deliveries(@app), "ev-replay-midreplay 200 attempt=2\n",
       tname("the app got it exactly once"));
}

sub have_strace {
    my ($rc) = SmileSpool::capture('strace', '-o', '/dev/null', 'true');
    return $rc == 0;
}
our $DEAD    = fresh_event(id => 'ev-replay-dead');

# TEST 11: 300 KB
our $HUGE    = fresh_event(id => 'ev-replay-huge')
               =~ s/"data":\{/"data":{"note":"@{['0123456789' x 30000]}",/r;

# TEST 12: sent in chunks of 7 bytes
our $CHUNKED = fresh_event(id => 'ev-replay-chunked');

sub chunked {
    my ($body) = @_;
    return join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                    $body =~ /(.{1,7})/gs) . "0\r\n\r\n";
}

# TEST 13: a record of $body, as the module writes it
sub record_of {
    my ($body, $received) = @_;
    my ($id) = $body =~ /"id":"([^"]+)"/;
    return record_text(received => $received, uri => '/hook', id => $id,
                       type => 'USER_CREATED',
                       created_at => created_at_of($body),
                       user_id => 'tenantId-fresh',
                       headers => [['Smile-Signature', sign($body)]],
                       body => $body);
}

sub place_by_hand {
    my $dir = spool_dir();
    my $now = int(time);
    my $put = sub {
        my ($name, $text, $age) = @_;
        spew("$dir/$name", $text);
        utime($now - $age, $now - $age, "$dir/$name") if $age;
    };
    $put->('tmp-99999-1-ev-hand-tmp',
           record_of(fresh_event(id => 'ev-hand-tmp'), $now));
    $put->('tmp-99999-2-ev-hand-old',
           record_of(fresh_event(id => 'ev-hand-old'), $now - 7200), 7200);
    $put->("ev-$now-1-ev-hand-ok",
           record_of(fresh_event(id => 'ev-hand-ok'), $now), 5);
    $put->("ev-$now-1-ev-hand-cut",
           substr(record_of(fresh_event(id => 'ev-hand-cut'), $now), 0, -20),
           5);
}

# TEST 14: records of more than 1000 bytes: two fit in 2600, three not
our @M = map { fresh_event(id => "ev-metrics-$_")
               =~ s/"data":\{/"data":{"note":"@{['x' x 600]}",/r } 1 .. 3;
our ($M1, $M2, $M3) = @M;
our ($DEPTH, $RECEIVED);

# the spool lines of the status text, the path replaced by PATH
sub spool_status {
    my (%v) = @_;
    my $l = sub { my ($name, $label, $v) = @_;
                  "smile_webhook_spool_$name\{spool=\"PATH\"$label} $v\n" =~ s/\\//gr };
    return $l->('events_total', '', $v{events})
         . $l->('failures_total', ',reason="full"', $v{full})
         . $l->('failures_total', ',reason="error"', $v{error})
         . $l->('replays_total', ',outcome="delivered"', $v{delivered})
         . $l->('replays_total', ',outcome="failed"', $v{failed})
         . $l->('dead_total', '', $v{dead})
         . $l->('depth_events', '', $v{depth})
         . $l->('depth_bytes', '', $v{bytes})
         . $l->('oldest_age_seconds', '', $v{age});
}

run_tests();

__DATA__

=== TEST 1: the app is down, then back: the replayer delivers the event once, as the 2nd attempt (X-Smile-Delivery-Attempt: 2), to the stored URI, with the original body byte for byte and the original signature, the client's other headers, none of the client's X-Smile-* and no X-Smile-Replay; then the file is removed and an info line says so
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::BACK, "/hook?via=smile")
--- more_headers eval
::client_hdrs($::BACK)
--- error_code: 202
--- response_headers
X-Result: spooled
--- after_response eval
package main;
sub {
    check_record($::BACK, '/hook?via=smile');

    # the first replay is due 2 s after the spooling: the app is up by then
    app_mode('up');
    ok(spool_empties(6), tname("the file is removed"));
    my @app = app_log_wait(1);
    is(deliveries(@app), "ev-replay-back 200 attempt=2\n",
       tname("the app got it once, as the 2nd attempt"));
    my $a = $app[0] or return;
    is($a->{uri}, '/hook?via=smile', tname("to the stored URI"));
    is($a->{sig}, sign($::BACK), tname("with the original signature"));
    is(app_body($a), $::BACK, tname("with the original body, byte for byte"));
    is("replay=$a->{replay} custom=$a->{custom} trace=$a->{trace}",
       "replay=- custom=- trace=t-1",
       tname("no X-Smile-Replay, no client X-Smile-*, the other headers"));
    is(scalar(errlog_wait(qr/\[info\] \d+#\d+: smile webhook: event id "ev-replay-back" delivered by replay, attempt 2, answer 200/)),
       1, tname("one info line"));
    sleep 1.5;
    is(scalar(app_log()), 1, tname("and nothing more reaches the app"));
}
--- no_error_log
[alert]
[crit]



=== TEST 2: back-off while the app answers 503: the attempts reach the app numbered 2, 3, then (the app back) 4, each failure renames the file with one more attempt and logs "next in 2 s", "next in 4 s"; the pauses double; a replay's failure is never spooled again
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-503
--- request eval
::post($::BACKOFF)
--- more_headers eval
::hdrs($::BACKOFF)
--- error_code: 202
--- timeout: 20
--- after_response eval
package main;
sub {
    my ($first) = events_in();
    my ($received) = ($first // '') =~ /^ev-(\d+)-1-ev-replay-backoff$/;
    ok($received, tname("spooled ($first)"));

    # the file's name after each attempt
    my @names;
    for my $n (2, 3) {
        wait_for(8, sub { app_log() >= $n });
        wait_for(3, sub { my ($e) = events_in(); $e && $e =~ /-$n-ev-/ });
        push @names, events_in();
    }
    app_mode('up');
    ok(spool_empties(10), tname("delivered at last"));
    my @app = app_log_wait(4);
    is(deliveries(@app),
       "ev-replay-backoff 503 attempt=-\nev-replay-backoff 503 attempt=2\n"
       . "ev-replay-backoff 503 attempt=3\nev-replay-backoff 200 attempt=4\n",
       tname("the app got attempts 2, 3 and 4"));
    is("@names", "ev-$received-2-ev-replay-backoff ev-$received-3-ev-replay-backoff",
       tname("one file, renamed with one more attempt each time"));
    is(join('', map { $_->[2] =~ s/^.*smile webhook: //r . "\n" }
                errlog_wait(qr/replay of event id/, 2)),
       qq(replay of event id "ev-replay-backoff" failed, attempt 2, answer 503; next in 2 s\n)
       . qq(replay of event id "ev-replay-backoff" failed, attempt 3, answer 503; next in 4 s\n),
       tname("a warn line per failure, with the back-off"));
    if (@app == 4) {
        my ($g2, $g3) = ($app[2]{time} - $app[1]{time},
                         $app[3]{time} - $app[2]{time});
        ok($g2 >= 1 && $g2 < 3.5, tname("2 s between attempts 2 and 3 ($g2)"));
        ok($g3 >= 3 && $g3 < 5.5, tname("4 s between attempts 3 and 4 ($g3)"));
    }
    is(errlog_count(qr/is spooled in/), 1,
       tname("only the first answer was spooled"));
}
--- no_error_log
[alert]
[crit]



=== TEST 3: dedupe: Smile's retry of a spooled id gets 202 "spooled", is not forwarded nor stored again (one file); the replay delivers it; then Smile's retry gets 200 "duplicate"; the status shows the id spooled, then delivered
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /status {
        smile_webhook_status;
    }
--- user_files
>>> app-down
--- request eval
[::post($::DEDUPE), ::post($::DEDUPE), "GET /status", ::post($::DEDUPE),
 "GET /status"]
--- more_headers eval
[::hdrs($::DEDUPE), ::hdrs($::DEDUPE), "", ::hdrs($::DEDUPE), ""]
--- error_code eval
[202, 202, 200, 200, 200]
--- response_headers eval
["X-Result: spooled\nContent-Length: 0", "X-Result: spooled\nContent-Length: 0",
 "", "X-Result: duplicate\nContent-Length: 0", ""]
--- response_body eval
["", "",
 qr/^smile_webhook_requests_total\{result="spooled"\} 2\n.*^smile_webhook_dedupe_entries\{zone="events",state="delivered"\} 0\nsmile_webhook_dedupe_entries\{zone="events",state="in_flight"\} 0\nsmile_webhook_dedupe_entries\{zone="events",state="spooled"\} 1\n.*^smile_webhook_spool_events_total\{spool="[^"]+"\} 1\n/sm,
 "",
 qr/^smile_webhook_requests_total\{result="duplicate"\} 1\nsmile_webhook_requests_total\{result="in_flight"\} 0\nsmile_webhook_requests_total\{result="spooled"\} 2\n.*^smile_webhook_dedupe_entries\{zone="events",state="delivered"\} 1\nsmile_webhook_dedupe_entries\{zone="events",state="in_flight"\} 0\nsmile_webhook_dedupe_entries\{zone="events",state="spooled"\} 0\n.*^smile_webhook_spool_events_total\{spool="[^"]+"\} 1\n.*^smile_webhook_spool_replays_total\{spool="[^"]+",outcome="delivered"\} 1\n/sm]
--- after_response eval
package main;
[undef, sub {
    is(join(' ', map { s/^ev-\d+-//r } events_in()), '1-ev-replay-dedupe',
       tname("one file"));
    is(scalar(app_log()), 0, tname("the app got nothing"));
    is(errlog_count(qr/is spooled in/), 1, tname("one record written"));
 }, sub {
    app_mode('up');
    ok(spool_empties(6), tname("the replay delivered it"));
    is(deliveries(app_log_wait(1)), "ev-replay-dedupe 200 attempt=2\n",
       tname("the app got it once"));
 }, sub {
    sleep 0.5;
    is(scalar(app_log()), 1, tname("the app got nothing more"));
 }]
--- no_error_log
[alert]
[crit]



=== TEST 4: a reload while an event is spooled: the new generation's replayer delivers it (once, 2nd attempt)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::RELOAD)
--- more_headers eval
::hdrs($::RELOAD)
--- error_code: 202
--- after_response eval
package main;
sub {
    my $old = cache_manager_pid();
    ok(reload_nginx(), tname("reloaded"));
    my $new = cache_manager_pid();
    isnt($new, $old, tname("a new cache manager"));
    app_mode('up');
    ok(spool_empties(8), tname("the file is removed"));
    is(deliveries(app_log_wait(1)), "ev-replay-reload 200 attempt=2\n",
       tname("the app got it once"));
    my @l = errlog_wait(qr/event id "ev-replay-reload" delivered by replay/);
    is(join(' ', map { $_->[1] } @l), $new,
       tname("delivered by the new cache manager"));
}
--- no_error_log
[alert]
[crit]



=== TEST 5: the replay's proof (X-Smile-Replay's token) survives a reload, and a new nginx makes a new one: the record's URI, edited by hand to a location that logs the header and answers 500, shows the token of each attempt
--- http_config
    log_format peek '$http_x_smile_replay';
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1s;
        proxy_pass http://$app;
    }

    location = /peek {
        access_log $TEST_NGINX_SERVER_ROOT/logs/peek.log peek;
        return 500;
    }
--- user_files
>>> app-down
--- request eval
::post($::TOKEN)
--- more_headers eval
::hdrs($::TOKEN)
--- error_code: 202
--- timeout: 20
--- after_response eval
package main;
sub {
    my $dir = spool_dir();
    my ($name) = events_in();
    my $r = read_record("$dir/$name") or return fail(tname("no record"));
    spew("$dir/$name", $r->{text} =~ s/^uri: \/hook$/uri: \/peek/mr);

    my $peek = server_root() . '/logs/peek.log';
    my $tokens = sub { split /\n/, slurp($peek) // '' };

    # the next attempt: due at once (mtime set back), its token once logged
    my $attempt = sub {
        my ($n) = @_;
        wait_for(5, sub { my ($e) = events_in(); $e && $e =~ /-$n-ev-/ });
        my ($e) = events_in();
        utime(time - 100, time - 100, "$dir/$e");
        wait_for(5, sub { $tokens->() >= $n });
        return ($tokens->())[$n - 1] // '';
    };

    my $first = $attempt->(1);
    like($first, qr/^[0-9a-f]{32} 2$/, tname("a token and the attempt"));
    ok(reload_nginx(), tname("reloaded"));
    my $second = $attempt->(2);
    like($second, qr/ 3$/, tname("the next attempt"));
    is(substr($second, 0, 32), substr($first, 0, 32),
       tname("the same token after the reload"));
    ok(restart_nginx(), tname("restarted"));
    my $third = $attempt->(3);
    like($third, qr/^[0-9a-f]{32} 4$/, tname("the attempt after the restart"));
    isnt(substr($third, 0, 32), substr($first, 0, 32),
         tname("a new token after a restart"));
    is(scalar(app_log()), 0, tname("the app got nothing"));
}
--- no_error_log
[alert]
[crit]



=== TEST 6: a restart (stop, then start) while an event is spooled: the new nginx delivers it, once
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::RESTART)
--- more_headers eval
::hdrs($::RESTART)
--- error_code: 202
--- after_response eval
package main;
sub {
    my $old = master_pid();
    ok(stop_nginx(), tname("stopped"));
    is(join(' ', map { s/^ev-\d+-//r } events_in()), '1-ev-replay-restart',
       tname("the event waits in the spool"));
    app_mode('up');
    ok(start_nginx(), tname("started again"));
    isnt(master_pid(), $old, tname("a new nginx"));
    my $cm = cache_manager_pid();
    ok(spool_empties(8), tname("the file is removed"));
    my @app = app_log_wait(1);
    is(deliveries(@app), "ev-replay-restart 200 attempt=2\n",
       tname("the app got it once"));
    is(app_body($app[0] // {}), $::RESTART, tname("the body, byte for byte"));
    my @l = errlog_wait(qr/event id "ev-replay-restart" delivered by replay/);
    is(join(' ', map { $_->[1] } @l), $cm,
       tname("delivered by the new nginx's cache manager"));
}
--- no_error_log
[alert]
[crit]



=== TEST 7: the worker killed (SIGKILL) while it writes a record (strace holds the thread's fsync() 3 s): the client gets no answer, no ev-* file is left, only a tmp-* one; Smile's retry is taken over from the dead worker (dedupe) and spooled; the app gets the event once; the tmp-* file is never replayed
--- skip_eval: 13: !main::have_strace()
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /t {
        return 204;
    }
--- user_files
>>> app-down
--- request eval
["GET /t", ::post($::KILLED)]
--- more_headers eval
["", ::hdrs($::KILLED)]
--- error_code eval
[204, 202]
--- response_headers eval
["", "X-Result: spooled"]
--- timeout: 20
--- after_response eval
package main;
[sub {
    my $worker = worker_pid();
    my $st = hold_fsync($worker, 'delay_enter=3000000')
        or return fail(tname("strace did not attach"));
    my $c = raw_post(server_port(), '/hook', $::KILLED,
                     "Smile-Signature: " . sign($::KILLED));
    ok(wait_for(5, sub { temps_in() }), tname("the record is being written"));
    kill 'KILL', $worker;
    my $answer = read_answer($c, 5);
    release_held($st);
    is($answer, '', tname("the client got no answer"));
    ok(wait_for(5, sub { my $w = worker_pid(); $w && $w != $worker }),
       tname("the master started another worker"));
    is(join(' ', events_in()), '', tname("no ev-* file"));
    like(join(' ', temps_in()), qr/^tmp-$worker-\d+-ev-replay-killed$/,
         tname("only the tmp-* file of the dead worker"));
 }, sub {
    is(join(' ', map { s/^ev-\d+-//r } events_in()), '1-ev-replay-killed',
       tname("Smile's retry is spooled"));
    like(errlog(), qr/smile webhook event id "ev-replay-killed" was in flight in process \d+, which has exited; delivering it again, client: 127\.0\.0\.1/,
         tname("taken over from the dead worker"));
    app_mode('up');
    ok(spool_empties(8), tname("and delivered"));
    sleep 2.5;
    is(deliveries(app_log_wait(1)), "ev-replay-killed 200 attempt=2\n",
       tname("the app got it once"));
    is(scalar(temps_in()), 1, tname("the tmp-* file is still there: never replayed"));
 }]
--- error_log eval
qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/
--- no_error_log
[crit]



=== TEST 8: the cache manager killed (SIGKILL) while a replay waits for the app's answer: the master starts another one, which delivers the event; with dedupe, the app gets it exactly once
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::MIDREPLAY)
--- more_headers eval
::hdrs($::MIDREPLAY)
--- error_code: 202
--- timeout: 20
--- after_response eval
package main;
\&::cache_manager_killed
--- error_log eval
qr/\[alert\] \d+#\d+: cache manager process \d+ exited on signal 9/
--- no_error_log
[crit]



=== TEST 9: the worker killed (SIGKILL) while it forwards a replay to the app: the replayer gets no answer (answer 0) and keeps the file with one more attempt; the next replay takes the id over from the dead worker (dedupe) and delivers it: one 2xx delivery, as the 3rd attempt
--- http_config
    smile_webhook_dedupe_zone events:1m;
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_dedupe events;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::WKREPLAY)
--- more_headers eval
::hdrs($::WKREPLAY)
--- error_code: 202
--- timeout: 20
--- after_response eval
package main;
sub {
    stuck_drain();
    app_mode('slow');
    ok(stuck_accept(6), tname("a replay is in the app, waiting"));
    my $worker = worker_pid();
    kill 'KILL', $worker;
    ok(wait_for(5, sub { my $w = worker_pid(); $w && $w != $worker }),
       tname("the master started another worker"));
    app_mode('up');
    stuck_drain();
    my @l = errlog_wait(qr/replay of event id "ev-replay-worker" failed/);
    like($l[0] ? $l[0][2] : '', qr/failed, attempt 2, answer 0; next in 2 s/,
         tname("the replayer got no answer"));
    ok(spool_empties(8), tname("the file is removed"));
    like(errlog(), qr/smile webhook event id "ev-replay-worker" was in flight in process $worker, which has exited; delivering it again, client: unix:/,
         tname("the replay takes the id over from the dead worker"));
    sleep 0.5;
    my @app = app_log();
    is(join('', map { "$_->{id} $_->{status} attempt=$_->{attempt}\n" }
                grep { $_->{status} =~ /^2/ } @app),
       "ev-replay-worker 200 attempt=3\n",
       tname("one 2xx delivery, the 3rd attempt"));
}
--- error_log eval
qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/
--- no_error_log
[crit]



=== TEST 10: dead after keep (keep=2s, the app down): the event moves to PATH/dead/ whole, logged once at error, counted in dead_total, out of the depth; never deleted, never replayed, also once the app is back
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1s keep=2s;
        proxy_pass http://$app;
    }

    location = /status {
        smile_webhook_status;
    }
--- user_files
>>> app-down
--- request eval
[::post($::DEAD), "GET /status"]
--- more_headers eval
[::hdrs($::DEAD), ""]
--- error_code eval
[202, 200]
--- response_body eval
["", qr/^smile_webhook_spool_dead_total\{spool="[^"]+"\} 1\n.*^smile_webhook_spool_depth_events\{spool="[^"]+"\} 0\n/ms]
--- timeout: 20
--- after_response eval
package main;
[sub {
    my $dir = spool_dir();
    my ($name) = events_in();
    my $r = read_record("$dir/$name") or return fail(tname("no record"));
    ok(wait_for(8, sub { events_in("$dir/dead") }), tname("moved to dead/"));
    my ($dead) = events_in("$dir/dead");
    like($dead, qr/^ev-\d+-\d+-ev-replay-dead$/, tname("under its name ($dead)"));
    is(slurp("$dir/dead/$dead"), $r->{text}, tname("whole"));
    is(join(' ', events_in()), '', tname("out of the spool"));
    my ($attempts) = $dead =~ /^ev-\d+-(\d+)-/;
    sleep 1.2;
    is(errlog_count(qr/\[error\] \d+#\d+: smile webhook: event id "ev-replay-dead" was not delivered in 2 s after $attempts attempts; moved to "\Q$dir\E\/dead\/\Q$dead\E"/),
       1, tname("logged once at error"));
 }, sub {
    app_mode('up');
    sleep 2.5;
    my $dir = spool_dir();
    is(scalar(events_in("$dir/dead")), 1, tname("still in dead/"));
    is(scalar(app_log()), 0, tname("never replayed"));
    is(errlog_count(qr/was not delivered in/), 1, tname("still logged once"));
 }]
--- no_error_log
[alert]
[crit]



=== TEST 11: a body in the client's temporary file (client_body_buffer_size 1k, 300 KB): spooled and replayed byte for byte
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        client_body_buffer_size 1k;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::HUGE)
--- more_headers eval
::hdrs($::HUGE)
--- error_code: 202
--- after_response eval
package main;
sub {
    my ($name, $received, $r) = the_record('ev-replay-huge');
    ok($r && $r->{body} eq $::HUGE,
       tname("the record's body, byte for byte (" . length($::HUGE) . " bytes)"));
    like($r ? $r->{head} : '', qr/\nlength: ${\ length $::HUGE}$/,
         tname("its length"));
    app_mode('up');
    ok(spool_empties(6), tname("replayed"));
    my @app = app_log_wait(1);
    is(deliveries(@app), "ev-replay-huge 200 attempt=2\n", tname("once"));
    ok(app_body($app[0] // {}) eq $::HUGE, tname("the app got the body, byte for byte"));
}
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
[alert]
[crit]



=== TEST 12: a chunked body: spooled without Transfer-Encoding, with its length, and replayed byte for byte
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
"POST /hook\n" . ::chunked($::CHUNKED)
--- more_headers eval
"Smile-Signature: " . ::sign($::CHUNKED) . "\nTransfer-Encoding: chunked\nX-Custom-Trace: t-1"
--- error_code: 202
--- after_response eval
package main;
sub {
    my ($name, $received, $r) = the_record('ev-replay-chunked');
    is($r ? $r->{text} : '',
       record_text(received => $received, uri => '/hook',
                   id => 'ev-replay-chunked', type => 'USER_CREATED',
                   created_at => created_at_of($::CHUNKED),
                   user_id => 'tenantId-fresh',
                   headers => [['Smile-Signature', sign($::CHUNKED)],
                               ['X-Custom-Trace', 't-1']],
                   body => $::CHUNKED),
       tname("the record"));
    app_mode('up');
    ok(spool_empties(6), tname("replayed"));
    my @app = app_log_wait(1);
    is(deliveries(@app), "ev-replay-chunked 200 attempt=2\n", tname("once"));
    is(app_body($app[0] // {}), $::CHUNKED, tname("the app got the body, byte for byte"));
}
--- no_error_log
[alert]
[crit]



=== TEST 13: files put in the spool by hand: a tmp-* file (a whole record, even) is never replayed, and removed only once an hour old; a whole ev-* record is replayed; an ev-* record cut short (as a write that died would leave it under its final name) fails the signature check and never reaches the app
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1s;
        proxy_pass http://$app;
    }

    location = /t {
        return 204;
    }
--- init
main::place_by_hand();
--- request
GET /t
--- error_code: 204
--- timeout: 20
--- after_response eval
package main;
sub {
    my $dir = spool_dir();
    ok(wait_for(6, sub { !grep { /ev-hand-ok$/ } events_in() }),
       tname("the whole ev-* record is replayed"));
    sleep 2.5;
    is(deliveries(app_log_wait(1)), "ev-hand-ok 200 attempt=2\n",
       tname("the app got that one only"));
    ok(-f "$dir/tmp-99999-1-ev-hand-tmp", tname("the fresh tmp-* file is left alone"));
    ok(!-e "$dir/tmp-99999-2-ev-hand-old", tname("the hour-old one is removed"));
    like(join(' ', events_in()), qr/^ev-\d+-[2-9]-ev-hand-cut$/,
         tname("the record cut short is still there, its replays failed"));
    like(errlog(), qr/smile webhook: replay of event id "ev-hand-cut" failed, attempt 2, answer 401/,
         tname("refused with 401"));
    like(errlog(), qr/smile webhook rejected request: bad_signature .*client: unix:/,
         tname("by the signature check"));
}
--- no_error_log
[alert]
[crit]



=== TEST 14: the status after a known sequence (two events spooled, a third refused by max_size, then both delivered, made due by hand): the exact lines of the spool families, and replays are not counted as requests
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool max_size=2600 retry=1h;
        proxy_pass http://$app;
    }

    location = /status {
        smile_webhook_status;
    }
--- user_files
>>> app-down
--- request eval
[::post($::M1), ::post($::M2), ::post($::M3), "GET /status", "GET /status"]
--- more_headers eval
[::hdrs($::M1), ::hdrs($::M2), ::hdrs($::M3), "", ""]
--- error_code eval
[202, 202, 502, 200, 200]
--- timeout: 20
--- after_response eval
package main;
[undef, undef, sub {
    my $dir = spool_dir();
    $::DEPTH = 0;
    $::DEPTH += -s "$dir/$_" for events_in();
    ($::RECEIVED) = sort map { /^ev-(\d+)-/ } events_in();
    ok($::DEPTH > 2000 && $::DEPTH <= 2600, tname("two records, $::DEPTH bytes"));
    sleep 1.3;    # a scan of the spool
 }, sub {
    my (undef, $body) = @_;
    my $age = $body =~ /^smile_webhook_spool_oldest_age_seconds\{[^}]+\} (\d+)$/m ? $1 : -1;
    my $want = time - $::RECEIVED;
    ok($age >= $want - 2 && $age <= $want + 1,
       tname("the oldest event's age ($age s)"));
    is(status_spool_lines($body) =~ s/\{spool="[^"]+"/{spool="PATH"/gr,
       ::spool_status(events => 2, full => 1, error => 0, delivered => 0,
                      failed => 0, dead => 0, depth => 2, bytes => $::DEPTH,
                      age => $age),
       tname("the spool lines while both wait"));
    is(status_lines($body, qr/^smile_webhook_requests_total\{result="(ok|spooled)"/),
       qq(smile_webhook_requests_total{result="ok"} 1\n)
       . qq(smile_webhook_requests_total{result="spooled"} 2\n),
       tname("requests: the one not spooled is ok, two spooled"));
    # the app back, and both events due (retry=1h kept them waiting)
    app_mode('up');
    my $dir = spool_dir();
    utime(time - 7200, time - 7200, "$dir/$_") for events_in();
    ok(spool_empties(8), tname("both delivered"));
    sleep 1.3;    # a scan of the spool
 }, sub {
    my (undef, $body) = @_;
    is(status_spool_lines($body) =~ s/\{spool="[^"]+"/{spool="PATH"/gr,
       ::spool_status(events => 2, full => 1, error => 0, delivered => 2,
                      failed => 0, dead => 0, depth => 0, bytes => 0,
                      age => 0),
       tname("the spool lines once both are delivered"));
    is(status_lines($body, qr/^smile_webhook_requests_total\{result="(ok|spooled)"/),
       qq(smile_webhook_requests_total{result="ok"} 1\n)
       . qq(smile_webhook_requests_total{result="spooled"} 2\n),
       tname("the replays are not counted as requests"));
    is(deliveries(sort { $a->{id} cmp $b->{id} } app_log_wait(2)),
       "ev-metrics-1 200 attempt=2\nev-metrics-2 200 attempt=2\n",
       tname("the app got both, once"));
 }]
--- no_error_log
[alert]
[crit]



=== TEST 15: a replay is not held to max_age (checked on arrival): an event 57 s old on arrival, max_age 60s, is delivered by a replay made once it is older than that
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 60s;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=2s;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /t {
        return 204;
    }
--- user_files
>>> app-down
--- request
GET /t
--- error_code: 204
--- timeout: 20
--- after_response eval
package main;
sub {
    # made now, 57 s old
    my $start = time;
    my $aged = fresh_event(id => 'ev-replay-aged', created_at => -57);
    my $c = raw_post(server_port(), '/hook', $aged,
                     "Smile-Signature: " . sign($aged));
    like(read_answer($c, 5) // '', qr{^HTTP/1\.1 202 .*\r\nX-Result: spooled\r\n}s,
         tname("spooled"));

    # the app is back once the event is more than 60 s old
    wait_for(10, sub { time > $start + 4.2 });
    app_mode('up');
    ok(spool_empties(8), tname("delivered"));
    is(deliveries(app_log_wait(1)), "ev-replay-aged 200 attempt=3\n",
       tname("the app got it, older than max_age"));
}
--- no_error_log
stale
[alert]
[crit]
