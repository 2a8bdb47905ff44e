# The replayers of the shared spool (the Redis stream), where more than one
# of them can see the same pending entry (see t/lib/SmileRedis.pm for the
# set-up):
#
#   1. an app slower than the spool's back-off: an entry being replayed is
#      pending all the while, and its idle time grows. It must not be
#      claimed and replayed a second time while the first replay is still
#      at the app (the spool directory's replayer knows which files are
#      busy). Without dedupe the app would get the event twice; with
#      dedupe, the second replay gets 409 in_flight.
#   2. one nginx with two servers, each with a spool of its own and its
#      own app: an event spooled by one server must be replayed once, to
#      that server's app. On Redis each spool needs a stream of its own
#      (stream=NAME): nginx -t refuses two spools on one stream.
#   3. the pace of the drain: 200 events spooled through two nodes while
#      the app was down drain within 20 s of its return.
#   4. smile_webhook_spool_depth_bytes while a record goes to a slow Redis:
#      a size, never below zero.
#   5. entries whose first replay failed, pending while two nodes without
#      dedupe replay: each must reach the app once.
#
# Each of these failed with the module as built on main at 341d5d5, and 5
# at 6520901 (see the comments at each).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SmileRedis;
use Smile::Harness::Cluster qw(nginx_conf deliver app_got node_metric log_lines);
use POSIX ();
use Smile::Harness::Events qw($SECRET fresh_event sign);
use Smile::Harness::HTTP qw(free_port http_request);
use Smile::Harness::Util qw(spew);
use Test::More;
use Time::HiRes qw(time sleep);

my $t = SmileRedis->new;
my $sv = $t->sv;
my $w = $t->work;
my $redis = $t->redis;
my $app = $t->app;
my $TAG = sprintf '%x%04x', time, $$;
sub event { my ($n) = @_; my $id = "ev-$TAG-$n"; return ($id, fresh_event(id => $id)) }

# 1. a slow app, a node without dedupe and one with (each its own stream)
my $plain = $t->node('plain', dedupe => 0,
                     redis => $t->redis_arg($redis, 'prefix=plain:', $t->timeout(1)));
my $once = $t->node('once', redis => $t->redis_arg($redis, 'prefix=once:', $t->timeout(1)));
ok($t->connected($redis, 6), 'both nodes are connected');

my @left = $sv->stop('app');
is("@left", '', 'the app is stopped');
my %ev;
for my $n ($plain, $once) {
    my ($id, $body) = event($n->{name});
    $ev{ $n->{name} } = $id;
    # the app will hold the replay for 6 s: the header is stored with the
    # event and replayed with it
    my $r = deliver($n, $body, headers => [['X-Demo-Hold', 6]]);
    is("$r->{status} $r->{result}", '202 spooled', "$n->{name}: spooled, the app down");
    is($redis->cli('XLEN', "$n->{name}:{spool}:stream"), 1, "$n->{name}: in its stream");
}
for my $n ($plain, $once) {
    ok($t->eventually(10, sub { log_lines($n, qr/replay of event id "\Q$ev{ $n->{name} }\E" from redis failed, attempt 2/) }),
       "$n->{name}: a first replay failed (the app down)");
}
$t->app_again;
for my $n ($plain, $once) {
    ok($t->eventually(15, sub { app_got($app, $ev{ $n->{name} }) }), "$n->{name}: a replay reached the app");
}
sleep $t->slow(8);    # past the next back-offs (2 s, 4 s), the first replay still at the app
ok($t->eventually(10, sub { log_lines($once, qr/event id "\Q$ev{once}\E" delivered by replay from redis/) }),
   'once: delivered by replay');
is(scalar app_got($app, $ev{once}), 1, 'with dedupe: the app got it once');
ok($t->eventually(10, sub { log_lines($plain, qr/event id "\Q$ev{plain}\E" delivered by replay from redis/) }),
   'plain: delivered by replay');
{
    # At 341d5d5 the replayer claimed pending entries by their idle time
    # alone (XPENDING IDLE, then XCLAIM with min-idle-time 0), including
    # the one it was replaying itself; an app slower than the back-off got
    # the event again while the first replay was at it. Now the replayer
    # skips its own, and resets the idle time of an entry it delivers.
    is(scalar app_got($app, $ev{plain}), 1, 'without dedupe: the app got it once');
}
my @replays = log_lines($once, qr/replay of event id "\Q$ev{once}\E" from redis failed, attempt \d+, answer 409/);
note('with dedupe, replays answered 409 in_flight meanwhile: ' . scalar @replays);

# 2. two servers, each with its spool and its app, in one nginx
my $app2 = $t->app('app2');
mkdir "$w/two";
my $p2 = free_port();
my $rarg = $t->redis_arg($redis, 'prefix=two:', $t->timeout(1));
my $server = sub {
    my ($port, $spool, $to, $stream) = @_;
    return <<"EOF";
    server {
        listen 127.0.0.1:$port;
        location = /hook {
            smile_webhook on;
            smile_webhook_secret "$SECRET";
            smile_webhook_allow 127.0.0.1;
            smile_webhook_spool $w/two/$spool retry=1s$stream;
            add_header X-Smile-Result \$smile_webhook_result always;
            proxy_pass http://127.0.0.1:$to;
        }
    }
EOF
};
my $p1 = $sv->start_nginx(
    name => 'two', nginx => SmileRedis::nginx_bin(), prefix => "$w/two", conf => "$w/two/nginx.conf",
    write => sub {
        my ($port) = @_;
        spew("$w/two/nginx.conf", nginx_conf(
            dir => "$w/two", title => 'two servers', workers => 1,
            module => SmileRedis::smile_module(),
            http => "    smile_webhook_redis $rarg;\n"
                  . $server->($port, 'one', $app->{port}, '')
                  . $server->($p2, 'other', $app2->{port}, ' stream=other')));
    });
ok($t->connected($redis, 8), 'the two-server nginx is connected');
@left = ($sv->stop('app'), $sv->stop('app2'));
is("@left", '', 'both apps are stopped');
my ($id2, $body2) = event('server1');
my $r = http_request(port => $p1, uri => '/hook', body => $body2,
                     headers => [['Smile-Signature', sign($body2)]]);
is("$r->{status} " . ($r->{headers}{'x-smile-result'} // ''), '202 spooled',
   'server 1 (spool "one"), its app down: 202 spooled');
sleep $t->slow(1.5);
$t->app_again;
$t->app_again('app2');
ok($t->eventually(15, sub { app_got($app, $id2) || app_got($app2, $id2) }), 'the event was replayed');
sleep $t->slow(3);
{
    # At 341d5d5 every spool of a node shared one stream
    # (PREFIX{spool}:stream) and each replayer sent what it read through
    # its own replay socket, a listener of its own server: both apps got
    # it. Now the second spool reads PREFIX{spool}:other.
    is(sprintf('app of server 1: %d, app of server 2: %d',
               scalar app_got($app, $id2), scalar app_got($app2, $id2)),
       'app of server 1: 1, app of server 2: 0', "the event went to server 1's app, once");
}

# 3. how fast the shared spool drains: 200 events spooled while the app was
# down, both nodes replaying; the spool directory's replayer starts the
# next replay as soon as one ends and drains that many in a second or two
my @fast = map { $t->node("fast$_", redis => $t->redis_arg($redis, 'prefix=fast:', $t->timeout(1)),
                          error_level => 'warn') } 1, 2;
ok($t->connected($redis, 14), 'two more nodes are connected');
@left = $sv->stop('app');
is("@left", '', 'the app is stopped');
my $N = 200;
my $spooled = 0;
for my $i (1 .. $N) {
    my ($id, $body) = event("fast$i");
    my $r = deliver($fast[$i % 2], $body);
    $spooled++ if ($r->{status} // 0) == 202;
}
is($spooled, $N, "$N events spooled through both nodes");
is($redis->cli('XLEN', 'fast:{spool}:stream'), $N, 'all in the stream');
$t->app_again;
my $t0 = time;
my $drained = $t->eventually(120, sub { ($redis->cli('XLEN', 'fast:{spool}:stream') // -1) == 0 });
my $took = time - $t0;
ok($drained, sprintf('the stream drained, in %.1f s', $took));
{
    # At 341d5d5 each replayer read at most 4 new entries (XREADGROUP
    # COUNT 4) per 1-second pass, whatever its free slots did meanwhile:
    # about 4 events a second per node. Now a freed slot starts a pass.
    ok($drained && $took < $t->slow(20), "$N events drained within 20 s of the app's return");
}

# 4. the spool's byte gauge while a record goes to Redis: Redis holds the
# XADD's reply past the replayer's next scan (every second), which counts
# the directory meanwhile
# (no dedupe: the request goes to the app at once, and the app is down)
my $slow = $t->node('slow', dedupe => 0,
                    redis => $t->redis_arg($redis, 'prefix=slow:', $t->timeout(5)));
ok($t->connected($redis, 17), 'one more node is connected');
@left = $sv->stop('app');
is("@left", '', 'the app is stopped');
ok($redis->pause, 'Redis is paused (SIGSTOP)');
my ($id4, $body4) = event('gauge');
my $kid = fork // die "fork: $!";
if ($kid == 0) {
    deliver($slow, $body4, timeout => 20);
    POSIX::_exit(0);
}
sleep $t->slow(1.5);    # the spool write waits for Redis; the replayer scans
ok($redis->resume, 'Redis goes on (SIGCONT)');
waitpid($kid, 0);
my $bytes = node_metric($slow, 'smile_webhook_spool_depth_bytes') // -1;
is($redis->cli('XLEN', 'slow:{spool}:stream'), 1, 'the event went to the stream');
{
    # At 341d5d5 a record spooled into Redis added its size to the spool's
    # byte count before the XADD and took it off after the reply; the
    # replayer's scan set the count to the directory's in between, so the
    # subtraction took the gauge below zero (about 2^64) until the next
    # scan. Now a write's room is reserved in a count of its own.
    ok($bytes >= 0 && $bytes < 2**62, "smile_webhook_spool_depth_bytes is a size: $bytes");
}

# 5. entries whose first replay failed, pending on two nodes without
# dedupe: both replayers see them in XPENDING once their back-off is over,
# and each must reach the app once
my @dup = map { $t->node("dup$_", dedupe => 0, error_level => 'warn',
                         redis => $t->redis_arg($redis, 'prefix=dup:', $t->timeout(1))) } 1, 2;
ok($t->connected($redis, 23), 'two nodes without dedupe are connected');
my $M = 100;
my %dup;
for my $i (1 .. $M) {
    my ($id, $body) = event("dup$i");
    my $r = deliver($dup[$i % 2], $body);
    $dup{$id} = 0 if ($r->{status} // 0) == 202;
}
is(scalar keys %dup, $M, "$M events spooled through both nodes, the app down");
# every entry read by a replayer and its replay failed (the app is down)
ok($t->eventually(20, sub {
    my $p = $redis->cli('XPENDING', 'dup:{spool}:stream', 'smile') // '';
    return $p =~ /\A(\d+)\n/ && $1 == $M;
}), 'every entry is pending after a failed replay');
sleep $t->slow(2.5);
$t->app_again;
ok($t->eventually(60, sub { ($redis->cli('XLEN', 'dup:{spool}:stream') // -1) == 0 }),
   'the stream drained');
sleep $t->slow(1);
$dup{$_} = scalar app_got($app, $_) for keys %dup;
{
    # At 6520901 a replayer claimed a pending entry with XCLAIM's minimum
    # idle time 0: two replayers that saw it in the same XPENDING both got
    # it, and the app got the event twice (1,438 events in the two-node
    # soak). Now the claim asks for the idle time the entry was chosen for.
    my @twice = grep { $dup{$_} > 1 } sort keys %dup;
    my @never = grep { $dup{$_} == 0 } sort keys %dup;
    is(scalar @never, 0, 'every event reached the app');
    is(scalar @twice, 0, "each event reached the app once (twice: @twice[0 .. (@twice > 5 ? 4 : $#twice)])");
}

my @bad = map { log_lines($_, qr/\[(?:alert|crit|emerg)\]/) } $plain, $once, @fast, $slow, @dup;
is("@bad", '', 'no alert');

$t->done;
done_testing();
