# Two nginx nodes sharing one Redis (smile_webhook_redis): dedupe and the
# spool across nodes. A real redis-server and two nginx instances (a master
# and two workers each, a dedupe zone and a spool each) in front of one
# app (demo/backend.pl); see t/lib/SmileRedis.pm for why this is a plain
# Test::More script.
#
#   1. the status page of a node with Redis: the four redis lines
#   2. an event delivered through node A is "duplicate" on node B, and
#      Redis holds it "delivered" for the zone's ttl; B then answers it
#      from its zone, without asking Redis again
#   3. the same event to A and B at once, the app holding the first: the
#      app gets it once, the other node answers 409 in_flight
#   4. the app down, B away: an event spooled on A goes to the Redis
#      stream (not to A's directory) and A's replayer takes it (pending on
#      A); B back answers Smile's retry 202 without storing it again; A
#      stopped, the app back: B claims the entry from A and delivers it,
#      the stream empties, the id is "delivered"

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SmileRedis;
use Smile::Harness::Cluster qw(deliver app_got node_metric node_status log_lines);
use Smile::Harness::Events qw(fresh_event);
use Smile::Harness::Status qw(spool_events);
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

my $t = SmileRedis->new;
my $redis = $t->redis;
my $app = $t->app;
my %node = map {
    $_ => $t->node($_, redis => $t->redis_arg($redis, $t->timeout(1)))
} qw(a b);
my ($A, $B) = @node{qw(a b)};
my $TAG = sprintf '%x%04x', time, $$;
my $STREAM = 'smile:{spool}:stream';

ok($t->connected($redis, 6),
   'every worker and cache manager of both nodes is connected to Redis');

sub event { my ($n) = @_; my $id = "ev-$TAG-$n"; return ($id, fresh_event(id => $id)) }
sub got_n { my ($id) = @_; return scalar app_got($app, $id) }
sub evals { return (($redis->cli('INFO', 'commandstats') // '') =~ /^cmdstat_eval:calls=(\d+)/m)[0] // 0 }

# 1. the status lines
for my $n ($A, $B) {
    my $st = node_status($n);
    ok(!$st->{error}, "node $n->{name}: status page") or diag($st->{error});
    my $text = $st->{text} // '';
    like($text, qr/^# TYPE smile_webhook_redis_up gauge\nsmile_webhook_redis_up 1$/m,
         "node $n->{name}: smile_webhook_redis_up 1");
    like($text, qr/^# TYPE smile_webhook_redis_outages_total counter\nsmile_webhook_redis_outages_total 0$/m,
         "node $n->{name}: smile_webhook_redis_outages_total 0");
    like($text, qr/^smile_webhook_redis_fallbacks_total\{what="dedupe"\} 0\nsmile_webhook_redis_fallbacks_total\{what="spool"\} 0$/m,
         "node $n->{name}: no fallback, by what");
}

# 2. delivered through A, duplicate on B
{
    my ($id, $body) = event(1);
    my $r = deliver($A, $body);
    is("$r->{status} $r->{result}", '200 ok', 'A: a new event is forwarded');
    is(got_n($id), 1, 'the app got it');
    is($redis->cli('GET', "smile:{$id}"), 'delivered', 'Redis: smile:{ID} is "delivered"');
    my $ttl = $redis->cli('PTTL', "smile:{$id}") // -1;
    ok($ttl > 3500_000 && $ttl <= 3600_000, "Redis: for the zone's ttl (1h): PTTL $ttl ms");

    $r = deliver($B, $body);
    is("$r->{status} $r->{result}", '200 duplicate', 'B: the same event is a duplicate');
    is($r->{body}, '', 'B: the duplicate answer is empty');
    is(got_n($id), 1, 'the app did not get it again');

    my $before = evals();
    for (1 .. 4) {    # both workers of B, most likely
        $r = deliver($B, $body);
        is("$r->{status} $r->{result}", '200 duplicate', "B: again ($_)");
    }
    is(evals(), $before, "B answered from its zone: no claim in Redis");
    $r = deliver($A, $body);
    is("$r->{status} $r->{result}", '200 duplicate', 'A: a duplicate too');
    is(got_n($id), 1, 'the app got the event once in all');
}

# 3. the same event to A and B at the same moment: one claim wins
for my $k (1 .. 4) {
    my ($id, $body) = event("race$k");
    my $at = time + 0.3;
    my @kids;
    for my $n ($A, $B) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $rd;
            sleep($at - time) if $at > time;
            my $r = deliver($n, $body, headers => [['X-Demo-Hold', 1.5]]);
            print {$wr} $r->{error} ? "ERR $r->{error}" : "$r->{status} $r->{result}";
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$n, $pid, $rd];
    }
    my %got;
    for my $k (@kids) {
        my ($n, $pid, $rd) = @$k;
        local $/;
        $got{ $n->{name} } = <$rd> // '';
        waitpid($pid, 0);
    }
    is(join(' + ', sort values %got), '200 ok + 409 in_flight',
       "race $k: one node forwards, the other answers 409 in_flight (a: $got{a}; b: $got{b})");
    is(got_n($id), 1, "race $k: the app got the event once");
    my ($loser) = grep { $got{$_} =~ /^409/ } sort keys %got;
    my $r = deliver($node{ $loser // 'b' }, $body);
    is("$r->{status} $r->{result}", '200 duplicate',
       "race $k: Smile's retry on the node that said in_flight is a duplicate");
    is(got_n($id), 1, "race $k: still once");
}

# 4. spooled on A, delivered by B after A is stopped: B is away while A's
# replayer takes the entry (and fails: the app is down), so that B has to
# claim it from A, as from a node that died
{
    my @left = $t->sv->stop('app');
    is("@left", '', 'the app is stopped');
    @left = $t->stop_node($B);
    is("@left", '', 'node B is stopped for a while');
    my ($id, $body) = event('spool');
    my $r = deliver($A, $body);
    is("$r->{status} $r->{result}", '202 spooled', 'A, the app down: 202 spooled');
    is($redis->cli('GET', "smile:{$id}"), 'spooled', 'Redis: the id is "spooled"');
    is($redis->cli('XLEN', $STREAM), 1, "Redis: the record is in $STREAM");
    my $rec = $redis->cli('XRANGE', $STREAM, '-', '+') // '';
    like($rec, qr/^SMILE-SPOOL 1$/m, 'the stream entry is a spool record');
    like($rec, qr/^id: \Q$id\E$/m, 'of this event');
    is(scalar spool_events($A->{spool}), 0, "not in A's spool directory");
    ok($t->eventually(10, sub { log_lines($A, qr/replay of event id "\Q$id\E" from redis failed, attempt 2, answer 502/) }),
       "A's replayer took it and failed (the app is down)");
    like($redis->cli('XPENDING', $STREAM, 'smile') // '', qr/\A1\n.*\n[^\n]*:\Q$A->{spool}\E\n1\z/s,
         "it is pending on A's consumer (HOST:SPOOL)");

    $B = $node{b} = $t->node('b', redis => $t->redis_arg($redis, $t->timeout(1)));
    ok($t->connected($redis, 6), 'node B is back');
    $r = deliver($B, $body);
    is("$r->{status} $r->{result}", '202 spooled', "B: Smile's retry is 202 spooled too");
    is($redis->cli('XLEN', $STREAM), 1, 'not stored a second time');
    is(scalar spool_events($B->{spool}), 0, "nor in B's spool directory");
    is(got_n($id), 0, 'the app has not got it');

    @left = $t->stop_node($A);
    is("@left", '', 'node A is stopped');
    $t->app_again;
    ok($t->eventually(40, sub { got_n($id) }), "the app got the event after A stopped");
    my @got = app_got($app, $id);
    is(scalar @got, 1, 'once');
    ok(($got[0]{attempt} // 0) >= 3, "from B's replay after A's: X-Smile-Delivery-Attempt " . ($got[0]{attempt} // 'absent'));
    ok($t->eventually(5, sub { log_lines($B, qr/event id "\Q$id\E" delivered by replay from redis/) }),
       "B's error log: delivered by replay from redis");
    ok($t->eventually(5, sub { ($redis->cli('XLEN', $STREAM) // -1) == 0 }), 'the stream is empty');
    like($redis->cli('XPENDING', $STREAM, 'smile') // '', qr/\A0\n/, 'nothing pending in the group');
    is($redis->cli('GET', "smile:{$id}"), 'delivered', 'Redis: the id is "delivered"');
    $r = deliver($B, $body);
    is("$r->{status} $r->{result}", '200 duplicate', "B: Smile's next retry is a duplicate");
    is(got_n($id), 1, 'still once');
    is(node_metric($B, 'smile_webhook_redis_fallbacks_total'), 0, 'B never fell back');
    my @bad = map { log_lines($_, qr/\[(?:alert|crit|emerg)\]/) } $A, $B;
    is("@bad", '', 'no alert');
}

$t->done;
done_testing();
