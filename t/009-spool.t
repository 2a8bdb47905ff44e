# vim:set ft= ts=4 sw=4 et fdm=marker:
#
# smile_webhook_spool, the write side: an authentic event the app did not
# take (unreachable, timed out, 5xx, 429) is written to the spool and
# answered 202 "spooled"; other answers pass through; the record's
# content; a full spool and a failed write give Smile the app's status (so
# it retries); report mode and subrequests never spool; a forged
# X-Smile-Replay is worth nothing; the configuration errors.  The replayer:
# t/010-replay.t.
#
# No lua, no echo: the app is stock nginx (t/lib/SmileSpool.pm), a master
# with one worker and the cache manager (the replayer runs there).  Files
# are looked at by "--- after_response" code, run after each response.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use SmileTest qw(:DEFAULT fresh_event);
use SmileApp qw(post hdrs);
use SmileSpool;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

master_on();
workers(1);
no_shuffle();
no_long_string();
add_block_preprocessor(\&with_spool_app);

our $SECRET_LINE = 'smile_webhook_secret "a little secret";';

our $DOWN    = fresh_event(id => 'ev-spool-down');
our $E503    = fresh_event(id => 'ev-spool-503');
our $E429    = fresh_event(id => 'ev-spool-429');
our $E400    = fresh_event(id => 'ev-spool-400');
our $E200    = fresh_event(id => 'ev-spool-200');
our $STUCK   = fresh_event(id => 'ev-spool-timeout');

# TEST 7: a token of the right form (32 hex digits) that is not this node's
our $FAKE_TOKEN = '0123456789abcdef' x 2;
our $FORGED  = fresh_event(id => 'ev-forged');
our $OLD     = fresh_event(id => 'ev-forged-old', created_at => -3600);

# TEST 8: records of more than 750 bytes, so that one fits in 1500, two not
our $BIG1    = fresh_event(id => 'ev-full-1') =~ s/"data":\{/"data":{"note":"@{['x' x 600]}",/r;
our $BIG2    = fresh_event(id => 'ev-full-2') =~ s/"data":\{/"data":{"note":"@{['x' x 600]}",/r;

# TEST 9
our $WERR1   = fresh_event(id => 'ev-werr-1');
our $WERR2   = fresh_event(id => 'ev-werr-2');
our ($HOW, $UNDO);

sub spool_unwritable {
    my $dir = spool_dir();
    # the replayer has made its lock file by now
    wait_for(5, sub { -e "$dir/.lock" }) or die "no $dir/.lock\n";
    ($HOW, $UNDO) = make_unwritable($dir);
}

# TEST 10, 11
our $FSYNC1  = fresh_event(id => 'ev-fsync-1');
our $FSYNC2  = fresh_event(id => 'ev-fsync-2');
our $STRACE;

sub have_strace {
    my ($rc) = SmileSpool::capture('strace', '-o', '/dev/null', 'true');
    return $rc == 0;
}

our $REPORT   = fresh_event(id => 'ev-report');
our $MIRRORED = fresh_event(id => 'ev-mirrored');

# TEST 25: "nginx -t" on a configuration of its own in $root, with "user
# $user" (none when undef) and "smile_webhook_spool $spool"; the exit
# status and what nginx printed
sub nginx_t {
    my ($root, $user, $spool) = @_;
    my $conf = join('', map { "load_module $_;\n" }
                        split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '')
               . ($user ? "user $user;\n" : '')
               . "pid $root/nginx.pid;\n"
               . "events {}\n"
               . "http {\n"
               . "    server {\n"
               . "        listen 127.0.0.1:$ENV{TEST_NGINX_DEAD_PORT};\n"
               . "        location /hook {\n"
               . "            smile_webhook on;\n"
               . "            smile_webhook_secret \"a little secret\";\n"
               . "            smile_webhook_spool $spool;\n"
               . "            proxy_pass http://127.0.0.1:1;\n"
               . "        }\n"
               . "    }\n"
               . "}\n";
    spew("$root/nginx.conf", $conf);
    return SmileSpool::capture($Test::Nginx::Util::NginxBinary, '-e', 'stderr',
                               '-t', '-p', "$root/", '-c', "$root/nginx.conf");
}

run_tests();

__DATA__

=== TEST 1: the app is down (connection refused): 202 with no body, result "spooled"; one record, written whole (no tmp-* left), mode 0600, owned by the workers' user: the stored URI, Host, id, type, createdAt, userId, the client's headers but X-Smile-* and the connection's own, the body byte for byte; an info line
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::DOWN, "/hook?via=smile")
--- more_headers eval
::client_hdrs($::DOWN)
--- error_code: 202
--- response_headers
X-Result: spooled
Content-Length: 0
--- response_body
--- after_response eval
package main;
sub { check_record($::DOWN, '/hook?via=smile');
      is(scalar(app_log()), 0, tname("the app got nothing")) }
--- error_log eval
[qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream/,
 qr/\[info\] .*smile webhook: the app answered 502, event id "ev-spool-down" is spooled in "\S+\/logs\/spool"/]
--- no_error_log
[warn]
[alert]
[crit]



=== TEST 2: the app answers 503: it got the event, its answer is held back, the event spooled, 202
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-503
--- request eval
::post($::E503)
--- more_headers eval
::client_hdrs($::E503)
--- error_code: 202
--- response_headers
X-Result: spooled
Content-Length: 0
Content-Type:
--- response_body
--- after_response eval
package main;
sub { check_record($::E503);
      is(join(' ', map { "$_->{id} $_->{status}" } app_log_wait(1)),
         'ev-spool-503 503', tname("the app got it once and answered 503")) }
--- error_log eval
qr/\[info\] .*smile webhook: the app answered 503, event id "ev-spool-503" is spooled in "\S+\/logs\/spool"/
--- no_error_log
[warn]
[error]
[alert]



=== TEST 3: the app answers 429: spooled, 202
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-429
--- request eval
::post($::E429)
--- more_headers eval
::client_hdrs($::E429)
--- error_code: 202
--- response_headers
X-Result: spooled
Content-Length: 0
--- response_body
--- after_response eval
package main;
sub { check_record($::E429);
      is(join(' ', map { "$_->{id} $_->{status}" } app_log_wait(1)),
         'ev-spool-429 429', tname("the app got it once and answered 429")) }
--- error_log eval
qr/\[info\] .*smile webhook: the app answered 429, event id "ev-spool-429" is spooled in "\S+\/logs\/spool"/
--- no_error_log
[warn]
[error]
[alert]



=== TEST 4: the app answers 400: its answer reaches the client unchanged (status, type, body), nothing is spooled
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-400
--- request eval
::post($::E400)
--- more_headers eval
::client_hdrs($::E400)
--- error_code: 400
--- response_headers
X-Result: ok
Content-Type: text/plain
Content-Length: 13
--- response_body
no such user
--- after_response eval
package main;
sub { is(join(' ', events_in(), temps_in()), '', tname("nothing in the spool"));
      is(join(' ', map { "$_->{id} $_->{status}" } app_log_wait(1)),
         'ev-spool-400 400', tname("the app got it once")) }
--- no_error_log
spooled
[warn]
[error]
[alert]



=== TEST 5: the app answers 200: passes through, nothing is spooled
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- request eval
::post($::E200)
--- more_headers eval
::client_hdrs($::E200)
--- response_headers
X-Result: ok
--- response_body
app ok
--- after_response eval
package main;
sub { is(join(' ', events_in(), temps_in()), '', tname("nothing in the spool")) }
--- no_error_log
spooled
[warn]
[error]
[alert]



=== TEST 6: the app times out (it takes the connection and never answers, proxy_read_timeout 1s): nginx's 504 is held back, the event spooled, 202
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_read_timeout 1s;
        proxy_pass http://$app;
    }
--- user_files
>>> app-stuck
--- request eval
::post($::STUCK)
--- more_headers eval
::client_hdrs($::STUCK)
--- error_code: 202
--- response_headers
X-Result: spooled
Content-Length: 0
--- response_body
--- after_response eval
package main;
sub { check_record($::STUCK); stuck_drain() }
--- error_log eval
[qr/upstream timed out \(110: Connection timed out\) while reading response header from upstream/,
 qr/\[info\] .*smile webhook: the app answered 504, event id "ev-spool-timeout" is spooled in "\S+\/logs\/spool"/]
--- no_error_log
[warn]
[alert]



=== TEST 7: a forged X-Smile-Replay (of the right form, not this node's token) is worth nothing: the allow list still refuses (401 ip_denied), max_age still refuses (401 stale), an event that passes reaches the app without it and without X-Smile-Delivery-Attempt; and on the replay socket itself, a request with it is refused by the allow list (401 ip_denied)
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 192.0.2.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /aged {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_max_age 60s;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /open {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- request eval
[::post($::FORGED, "/hook"), ::post($::OLD, "/aged"),
 ::post($::FORGED, "/open")]
--- more_headers eval
[::hdrs($::FORGED, undef, "X-Smile-Replay: $::FAKE_TOKEN 2"),
 ::hdrs($::OLD, undef, "X-Smile-Replay: $::FAKE_TOKEN 2"),
 ::hdrs($::FORGED, undef, "X-Smile-Replay: $::FAKE_TOKEN 2")]
--- error_code eval
[401, 401, 200]
--- response_headers eval
["X-Result: ip_denied", "X-Result: stale", "X-Result: ok"]
--- after_response eval
package main;
[undef, undef, sub {
    my @app = app_log_wait(1);
    is(join(' ', map { "$_->{id} replay=$_->{replay} attempt=$_->{attempt}" } @app),
       'ev-forged replay=- attempt=-',
       tname("the app got the event that passed, without X-Smile-Replay"));

    # the replay socket: the same server, but a unix client is not in the
    # allow list; only the token would let it in
    my $sock = spool_dir() . '/replay.sock';
    my $s = IO::Socket::UNIX->new(Peer => $sock, Type => SOCK_STREAM)
        or return fail(tname("connect to $sock: $!"));
    print {$s} "POST /open HTTP/1.1\r\nHost: localhost\r\n"
               . "Connection: close\r\n"
               . "X-Smile-Replay: $::FAKE_TOKEN 2\r\n"
               . hdrs($::FORGED) =~ s/\n/\r\n/gr . "\r\n\r\n$::FORGED";
    my $answer = read_answer($s, 5) // '';
    like($answer, qr{^HTTP/1\.1 401 .*\r\nX-Result: ip_denied\r\n}s,
         tname("on the replay socket: 401 ip_denied"));
    is(scalar(app_log()), 1, tname("the app got nothing more"));
}]
--- no_error_log
[alert]
[crit]



=== TEST 8: the spool full (max_size): the app's answer goes to the client as it is (status, type, body), with a warn line and failures{reason="full"}, so Smile retries; what fits is still spooled
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool max_size=1500 retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /status {
        smile_webhook_status;
    }
--- user_files
>>> app-503
--- request eval
[::post($::BIG1), ::post($::BIG2), "GET /status"]
--- more_headers eval
[::hdrs($::BIG1), ::hdrs($::BIG2), ""]
--- error_code eval
[202, 503, 200]
--- response_headers eval
["X-Result: spooled\nContent-Length: 0", "X-Result: ok\nContent-Type: text/html",
 ""]
--- response_body eval
["", qr{^<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>},
 qr/^smile_webhook_requests_total\{result="spooled"\} 1$/m]
--- after_response eval
package main;
[sub {
    my ($name, $received, $r) = the_record('ev-full-1');
    ok($r && length($r->{text}) > 750 && length($r->{text}) <= 1500,
       tname("one record fits in max_size, two do not (" . length($r->{text}) . " bytes)"));
 }, sub {
    is(join(' ', map { s/^ev-\d+-//r } events_in()), '1-ev-full-1',
       tname("the second event is not in the spool"));
    is(errlog_count(qr/\[warn\] .*smile webhook: spool "\S+\/logs\/spool" is full \(max_size\), event id "ev-full-2" is not spooled and the app's 503 goes to the client/),
       1, tname("one warn line"));
    is(join(' ', map { "$_->{id} $_->{status}" } app_log_wait(2)),
       'ev-full-1 503 ev-full-2 503', tname("the app got both"));
 }, sub {
    my (undef, $body) = @_;
    like(status_spool_lines($body),
         qr/^smile_webhook_spool_events_total\{spool="\S+\/logs\/spool"\} 1\nsmile_webhook_spool_failures_total\{spool="\S+\/logs\/spool",reason="full"\} 1\nsmile_webhook_spool_failures_total\{spool="\S+\/logs\/spool",reason="error"\} 0\n/,
         tname("spooled 1, failures full 1, error 0"));
 }]
--- no_error_log
[alert]
[crit]



=== TEST 9: a write that fails (the spool directory refuses new files, even to root: "chattr +i", or where the file system has no such flag, the directory replaced by a file): the app's status with an empty body, a warn line naming the call and the error, failures{reason="error"}, nothing left in the spool; once the directory is back, the next event is spooled
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }

    location = /status {
        smile_webhook_status;
    }
--- user_files
>>> app-down
--- init
main::spool_unwritable();
--- request eval
[::post($::WERR1), ::post($::WERR2), "GET /status"]
--- more_headers eval
[::hdrs($::WERR1), ::hdrs($::WERR2), ""]
--- error_code eval
[502, 202, 200]
--- response_headers eval
["X-Result: ok\nContent-Length: 0", "X-Result: spooled\nContent-Length: 0", ""]
--- response_body eval
["", "", qr/^smile_webhook_requests_total\{result="spooled"\} 1$/m]
--- after_response eval
package main;
[sub {
    $::UNDO->();
    is(join(' ', events_in(), temps_in()), '',
       tname("nothing in the spool (it was made unwritable: $::HOW)"));
    is(errlog_count(qr/\[warn\] .*smile webhook: event id "ev-werr-1" is not spooled, open\(\) failed in "\S+\/logs\/spool"; the app's 502 goes to the client \((1: Operation not permitted|20: Not a directory)\)/),
       1, tname("one warn line"));
 }, sub {
    is(join(' ', map { s/^ev-\d+-//r } events_in()), '1-ev-werr-2',
       tname("the next event is spooled"));
 }, sub {
    my (undef, $body) = @_;
    like(status_spool_lines($body),
         qr/^smile_webhook_spool_events_total\{spool="\S+\/logs\/spool"\} 1\nsmile_webhook_spool_failures_total\{spool="\S+\/logs\/spool",reason="full"\} 0\nsmile_webhook_spool_failures_total\{spool="\S+\/logs\/spool",reason="error"\} 1\n/,
         tname("spooled 1, failures full 0, error 1"));
 }]
--- no_error_log
[crit]



=== TEST 10: fsync() of the record fails (EIO, injected by strace in the worker's threads): not acknowledged: the app's status with an empty body, a warn line, no file left (neither ev-* nor tmp-*)
--- skip_eval: 9: !main::have_strace()
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- init
$main::STRACE = SmileSpool::hold_fsync(SmileSpool::worker_pid(), 'error=EIO')
    or die "strace did not attach\n";
--- request eval
::post($::FSYNC1)
--- more_headers eval
::hdrs($::FSYNC1)
--- error_code: 502
--- response_headers
X-Result: ok
Content-Length: 0
--- response_body
--- after_response eval
package main;
sub {
    release_held($::STRACE);
    is(join(' ', events_in(), temps_in()), '', tname("nothing in the spool"));
}
--- error_log eval
qr/\[warn\] .*smile webhook: event id "ev-fsync-1" is not spooled, fsync\(\) failed in "\S+\/logs\/spool"; the app's 502 goes to the client \(5: Input\/output error\)/
--- no_error_log
spooled in
[alert]
[crit]



=== TEST 11: fsync() of the directory fails (the second fsync() of the thread): the renamed record is removed again, not acknowledged: the app's status with an empty body, a warn line, no file left
--- skip_eval: 9: !main::have_strace()
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- init
$main::STRACE = SmileSpool::hold_fsync(SmileSpool::worker_pid(), 'error=EIO:when=2')
    or die "strace did not attach\n";
--- request eval
::post($::FSYNC2)
--- more_headers eval
::hdrs($::FSYNC2)
--- error_code: 502
--- response_headers
X-Result: ok
Content-Length: 0
--- response_body
--- after_response eval
package main;
sub {
    release_held($::STRACE);
    is(join(' ', events_in(), temps_in()), '', tname("nothing in the spool"));
}
--- error_log eval
qr/\[warn\] .*smile webhook: event id "ev-fsync-2" is not spooled, fsync\(\) of the directory failed in "\S+\/logs\/spool"; the app's 502 goes to the client \(5: Input\/output error\)/
--- no_error_log
spooled in
[alert]
[crit]



=== TEST 12: report mode never spools: the app's failure goes to the client as it is
--- config
    location = /hook {
        smile_webhook report;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        add_header X-Result $smile_webhook_result always;
        proxy_pass http://$app;
    }
--- user_files
>>> app-down
--- request eval
::post($::REPORT)
--- more_headers eval
::hdrs($::REPORT)
--- error_code: 502
--- response_headers
X-Result: ok
--- response_body_like: 502 Bad Gateway
--- after_response eval
package main;
sub { is(join(' ', events_in(), temps_in()), '', tname("nothing in the spool")) }
--- error_log
connect() failed (111: Connection refused)
--- no_error_log
spooled
[warn]
[alert]



=== TEST 13: a subrequest never spools: a mirror of a request to a spooling location whose app is down reaches the app's address (connect() failed), and nothing is spooled
--- config
    location = /front {
        mirror /hook;
        proxy_pass http://127.0.0.1:$TEST_NGINX_APP_PORT;
    }

    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_allow 127.0.0.1;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=1h;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- request eval
::post($::MIRRORED, "/front")
--- more_headers eval
::hdrs($::MIRRORED)
--- response_body
app ok
--- wait: 0.5
--- after_response eval
package main;
sub { is(join(' ', events_in(), temps_in()), '', tname("nothing in the spool")) }
--- error_log eval
qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, server: localhost, request: "POST \/front HTTP\/1\.1", subrequest: "\/hook"/
--- no_error_log
spooled
smile webhook rejected
[warn]
[alert]



=== TEST 14: nginx -t: max_size=0
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool max_size=0;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "max_size=0" in "smile_webhook_spool" directive in \S+/conf/nginx\.conf:\d+$}



=== TEST 15: nginx -t: max_size that is not a size
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool max_size=lots;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "max_size=lots" in "smile_webhook_spool" directive in \S+/conf/nginx\.conf:\d+$}



=== TEST 16: nginx -t: retry=0
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=0;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "retry=0" in "smile_webhook_spool" directive in \S+/conf/nginx\.conf:\d+$}



=== TEST 17: nginx -t: retry that is not a time
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=5x;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "retry=5x" in "smile_webhook_spool" directive in \S+/conf/nginx\.conf:\d+$}



=== TEST 18: nginx -t: keep that is not a time
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool keep=-1d;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "keep=-1d" in "smile_webhook_spool" directive in \S+/conf/nginx\.conf:\d+$}



=== TEST 19: nginx -t: an unknown parameter
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool depth=3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "depth=3" in "smile_webhook_spool" directive in \S+/conf/nginx\.conf:\d+$}



=== TEST 20: nginx -t: a path with a quote
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool '$TEST_NGINX_SERVER_ROOT/logs/sp"ool';
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid path "\S+/logs/sp"ool" in "smile_webhook_spool" directive, it must not hold quotes, backslashes or control characters in \S+/conf/nginx\.conf:\d+$}



=== TEST 21: nginx -t: a path too long for the replay socket
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool /tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*path "/tmp/x{100}" is too long in "smile_webhook_spool" directive, a unix socket in it must fit in 108 bytes in \S+/conf/nginx\.conf:\d+$}



=== TEST 22: nginx -t: twice in one location
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool;
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"smile_webhook_spool" directive is duplicate in \S+/conf/nginx\.conf:\d+$}



=== TEST 23: nginx -t: the same path in two locations with other parameters: the error names both places
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool retry=10s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }

    location = /other {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/logs/spool/ retry=20s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*spool "\S+/logs/spool" is set with other parameters in \S+/conf/nginx\.conf:\d+ in \S+/conf/nginx\.conf:\d+$}



=== TEST 24: nginx -t: a directory that cannot be made (its parent is a file): the error names the path
--- config
    location = /hook {
        smile_webhook on;
        smile_webhook_secret "a little secret";
        smile_webhook_spool $TEST_NGINX_SERVER_ROOT/html/a-file/spool;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- user_files
>>> a-file
--- must_die
--- error_log eval
qr{\[emerg\] .*mkdir\(\) "\S+/html/a-file/spool" failed \(20: Not a directory\)}



=== TEST 25: nginx -t itself (not only a start) makes a missing spool directory, mode 0700, owned by the workers' user ("user nobody" when run as root), and fails on a bad value and on a directory it cannot make
--- config
    location = /t {
        return 204;
    }
--- request
GET /t
--- error_code: 204
--- after_response eval
package main;
sub {
    my $root = server_root() . '/logs/t';
    mkdir $root;
    # nginx's default access log is logs/access.log under -p in a build
    # from source with the default layout
    mkdir "$root/logs";
    my @nobody = getpwnam('nobody');
    my ($user, $uid) = $> == 0 && @nobody
                       ? ('nobody ' . scalar(getgrgid($nobody[3])), $nobody[2])
                       : (undef, $>);

    my ($rc, $out) = nginx_t($root, $user, "$root/spool");
    is($rc, 0, tname("nginx -t passes")) or diag($out);
    like($out, qr/test is successful/, tname("nginx -t says so"));
    my @st = stat("$root/spool");
    ok(-d _, tname("the directory is made"));
    is($st[4], $uid, tname("owned by the workers' user (" . ($user // $>) . ")"));
    is(sprintf('%o', $st[2] & 07777), '700', tname("mode 0700"));

    ($rc, $out) = nginx_t($root, $user, "$root/spool retry=0");
    isnt($rc, 0, tname("nginx -t fails on retry=0"));
    like($out, qr/\[emerg\] \d+#\d+: invalid parameter "retry=0" in "smile_webhook_spool" directive in \S+nginx\.conf:\d+/,
         tname("naming the parameter"));

    spew("$root/a-file", "x");
    ($rc, $out) = nginx_t($root, $user, "$root/a-file/spool");
    isnt($rc, 0, tname("nginx -t fails on a directory it cannot make"));
    like($out, qr/\[emerg\] \d+#\d+: mkdir\(\) "\S+\/a-file\/spool" failed \(20: Not a directory\)/,
         tname("naming the path"));
}
--- no_error_log
[alert]
