# Redis going away under two nginx nodes, and coming back (see
# t/011-redis-nodes.t for the set-up):
#
#   1. Redis stopped: both nodes see it at once (smile_webhook_redis_up 0,
#      one outage), say so once each at warn, however often they try to
#      reconnect, and decide alone: a cross-node duplicate goes through
#      (counted in smile_webhook_redis_fallbacks_total{what="dedupe"}), the
#      local zone still stops a duplicate on the same node, and with the
#      app down an event is spooled to the node's own directory (counted
#      {what="spool"})
#   2. Redis back: a notice once per node, redis_up 1, every process
#      connected again; the locally spooled event drains once the app is
#      back; dedupe is shared again (no more fallbacks)
#   3. Redis that does not answer (SIGSTOP): a request waits at most the
#      timeout, then the node decides alone (a second outage, "no reply in
#      time"); the claim Redis takes late holds the id in flight for other
#      nodes until it expires (409 on B), and Redis answers again after
#      SIGCONT

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SmileRedis;
use Smile::Harness::Cluster qw(deliver app_got node_metric log_lines);
use Smile::Harness::Events qw(fresh_event);
use Smile::Harness::Status qw(spool_events);
use Test::More;
use Time::HiRes qw(time sleep);

my $t = SmileRedis->new;
my $redis = $t->redis;
my $app = $t->app;
my $TIMEOUT_MS = $t->timeout_ms(0.5);
my %node = map {
    $_ => $t->node($_, redis => $t->redis_arg($redis, "timeout=${TIMEOUT_MS}ms"))
} qw(a b);
my ($A, $B) = @node{qw(a b)};
my $TAG = sprintf '%x%04x', time, $$;

ok($t->connected($redis, 6), 'both nodes are connected to Redis');

sub event { my ($n) = @_; my $id = "ev-$TAG-$n"; return ($id, fresh_event(id => $id)) }
sub got_n { my ($id) = @_; return scalar app_got($app, $id) }
sub fallbacks { my ($n, $what) = @_; return node_metric($n, 'smile_webhook_redis_fallbacks_total', what => $what) }
sub up { my ($n) = @_; return node_metric($n, 'smile_webhook_redis_up') }
my $WARN = qr/\[warn\] .*smile webhook: redis 127\.0\.0\.1:\d+ is unreachable \(([^)]*)\): dedupe and the spool fall back to this node/;
my $BACK = qr/\[notice\] .*smile webhook: redis 127\.0\.0\.1:\d+ is back: dedupe and the spool are shared again/;

my ($id1, $body1) = event(1);
my $r = deliver($A, $body1);
is("$r->{status} $r->{result}", '200 ok', 'Redis up: A forwards a new event');
is(log_lines($_, $WARN), 0, "node $_->{name}: no outage line yet") for $A, $B;

# both replayers read the shared stream: they made its consumer group (or
# found it made), and last asked for pending or new entries
ok($t->eventually(10, sub {
       my $c = $redis->cli('CLIENT', 'LIST') // '';
       return (() = $c =~ /\bcmd=(?:xpending|xreadgroup)\b/g) == 2;
   }), "both nodes' replayers read the stream through its consumer group");

# 1. Redis stopped
my @left = $redis->stop;
is("@left", '', 'Redis is stopped');
for my $n ($A, $B) {
    ok($t->eventually(5, sub { (up($n) // 1) == 0 }), "node $n->{name}: smile_webhook_redis_up 0");
    is(node_metric($n, 'smile_webhook_redis_outages_total'), 1, "node $n->{name}: one outage");
}

$r = deliver($B, $body1);
is("$r->{status} $r->{result}", '200 ok',
   'B alone: the event A delivered is forwarded again (the documented cross-node duplicate)');
is(got_n($id1), 2, 'the app got it a second time');
ok(fallbacks($B, 'dedupe') >= 1, 'B counted the dedupe fallback: ' . fallbacks($B, 'dedupe'));

my ($id2, $body2) = event(2);
$r = deliver($A, $body2);
is("$r->{status} $r->{result}", '200 ok', 'A alone: a new event is forwarded');
$r = deliver($A, $body2);
is("$r->{status} $r->{result}", '200 duplicate', "A alone: its own zone still stops the duplicate");
is(got_n($id2), 1, 'the app got it once');

@left = $t->sv->stop('app');
is("@left", '', 'the app is stopped');
my ($id3, $body3) = event(3);
my $spool_before = fallbacks($A, 'spool');
$r = deliver($A, $body3);
is("$r->{status} $r->{result}", '202 spooled', 'A alone, the app down: 202 spooled');
my @files = spool_events($A->{spool});
is(scalar(grep { /-\Q$id3\E$/ } @files), 1, "in A's own spool directory: @files");
is(fallbacks($A, 'spool'), $spool_before + 1, 'A counted the spool fallback');
$r = deliver($A, $body3);
is("$r->{status} $r->{result}", '202 spooled', "Smile's retry on A: 202 spooled, from A's zone");
is(scalar spool_events($A->{spool}), 1, 'not stored twice');

sleep $t->slow(2);    # reconnections fail meanwhile, at 100 ms, 200 ms, ...
for my $n ($A, $B) {
    my @w = log_lines($n, $WARN);
    is(scalar @w, 1, "node $n->{name}: the outage is logged once at warn, whatever the reconnections");
    like($w[0] // '', qr/and an event delivered by another node may reach the app again/,
         "node $n->{name}: the line says what it means");
    is(node_metric($n, 'smile_webhook_redis_outages_total'), 1, "node $n->{name}: still one outage");
}

# 2. Redis back
ok($redis->start_again, 'Redis is started again on its port');
for my $n ($A, $B) {
    ok($t->eventually(15, sub { (up($n) // 0) == 1 }), "node $n->{name}: smile_webhook_redis_up 1 again");
    ok($t->eventually(5, sub { log_lines($n, $BACK) == 1 }), "node $n->{name}: the notice, once");
}
ok($t->connected($redis, 6, 15), 'every process of both nodes is connected again');

$t->app_again;
ok($t->eventually(30, sub { !spool_events($A->{spool}) }), "A's spool directory drains once the app is back");
my @got = app_got($app, $id3);
is(scalar @got, 1, 'the spooled event reached the app once');
ok(($got[0]{attempt} // 0) >= 2, 'from a replay (X-Smile-Delivery-Attempt ' . ($got[0]{attempt} // 'absent') . ')');

my %fb = map { $_->{name} => fallbacks($_, 'dedupe') } $A, $B;
my ($id4, $body4) = event(4);
$r = deliver($A, $body4);
is("$r->{status} $r->{result}", '200 ok', 'shared again: A forwards a new event');
is($redis->cli('GET', "smile:{$id4}"), 'delivered', 'Redis holds it');
$r = deliver($B, $body4);
is("$r->{status} $r->{result}", '200 duplicate', 'and B says duplicate');
is(got_n($id4), 1, 'the app got it once');
is(fallbacks($_, 'dedupe'), $fb{ $_->{name} }, "node $_->{name}: no new fallback") for $A, $B;

# Redis came back empty (no persistence): the stream and its consumer
# group are made again, and the shared spool works as before
@left = $t->sv->stop('app');
is("@left", '', 'the app is stopped again');
my %sfb = map { $_->{name} => fallbacks($_, 'spool') } $A, $B;
my ($id6, $body6) = event(6);
$r = deliver($B, $body6);
is("$r->{status} $r->{result}", '202 spooled', 'B, the app down: 202 spooled');
is($redis->cli('XLEN', 'smile:{spool}:stream'), 1, 'into the Redis stream, as before the outage');
is(fallbacks($B, 'spool'), $sfb{b}, 'not a fallback');
$t->app_again;
ok($t->eventually(30, sub { got_n($id6) }), 'the app got it from a replay');
is(got_n($id6), 1, 'once');
ok($t->eventually(5, sub { ($redis->cli('XLEN', 'smile:{spool}:stream') // -1) == 0 }),
   'the stream is empty again');

# 3. Redis that does not answer
my ($id5, $body5) = event(5);
ok($redis->pause, 'Redis is stopped with SIGSTOP (connections open, no answer)');
my $t0 = time;
$r = deliver($A, $body5);
my $took = time - $t0;
is("$r->{status} $r->{result}", '200 ok', 'A: the event is forwarded all the same');
ok($took < $TIMEOUT_MS / 1000 + $t->slow(1.5),
   sprintf('after the timeout (%d ms), not later: %.2f s', $TIMEOUT_MS, $took));
is(fallbacks($A, 'dedupe'), $fb{a} + 1, 'A counted the fallback');
ok($t->eventually(5, sub { node_metric($A, 'smile_webhook_redis_outages_total') == 2 }),
   'A: a second outage');
my @w = log_lines($A, $WARN);
is($w[-1] =~ $WARN && $1, 'no reply in time', 'A says why: no reply in time');
ok($redis->resume, 'Redis goes on (SIGCONT)');
ok($t->eventually(15, sub { (up($A) // 0) == 1 }), 'A: Redis is up again');
like($redis->cli('GET', "smile:{$id5}") // '', qr/^[^:]+:\d+:\d+$/,
     "Redis ran A's late claim: the id is held in flight by A's owner string");
$r = deliver($B, $body5);
is("$r->{status} $r->{result}", '409 in_flight',
   'B: 409 in_flight until that claim expires (the app has the event)');
is(got_n($id5), 1, 'the app got it once');

my @bad = map { log_lines($_, qr/\[(?:alert|crit|emerg)\]/) } $A, $B;
is("@bad", '', 'no alert on either node');

$t->done;
done_testing();
