# smile_webhook_redis against a Redis with a password (requirepass), and
# its other parameters, with real nginx nodes (see t/lib/SmileRedis.pm):
#
#   1. password_file with the right password (its first line: a CRLF and
#      the lines after it are not part of it), db= and prefix=: the node is
#      up, the keys go to that database under that prefix
#   2. a wrong password: a clear error line, once, at warn (Redis's
#      WRONGPASS); the node works alone (events forwarded, counted
#      fallbacks, redis_up 0) and keeps trying; no password in any log
#   3. no password_file at all: the same, with Redis's NOAUTH
#   4. Redis not there when nginx starts: nginx starts and serves alone

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SmileRedis;
use Smile::Harness::Cluster qw(deliver app_got node_metric log_lines);
use Smile::Harness::Events qw(fresh_event);
use Smile::Harness::HTTP qw(free_port);
use Smile::Harness::Util qw(slurp spew);
use Test::More;
use Time::HiRes qw(time sleep);

my $t = SmileRedis->new;
my $PASSWORD = 'pw-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 20);
my $WRONG = 'not-' . $PASSWORD;
my $redis = $t->redis(password => $PASSWORD);
my $app = $t->app;
my $w = $t->work;
spew("$w/right.pw", "$PASSWORD\r\nsecond line, not part of it\n");
spew("$w/wrong.pw", "$WRONG\n");
chmod 0600, "$w/right.pw", "$w/wrong.pw";

my $TAG = sprintf '%x%04x', time, $$;
sub event { my ($n) = @_; my $id = "ev-$TAG-$n"; return ($id, fresh_event(id => $id)) }
my $WARN = qr/\[warn\] .*smile webhook: redis 127\.0\.0\.1:\d+ is unreachable \(([^)]*)\)/;

my $good = $t->node('good', redis => $t->redis_arg($redis, "password_file=$w/right.pw",
                                                   'db=3', 'prefix=auth:', $t->timeout(1)));
my $wrong = $t->node('wrong', redis => $t->redis_arg($redis, "password_file=$w/wrong.pw",
                                                     $t->timeout(1)));
my $none = $t->node('none', redis => $t->redis_arg($redis, $t->timeout(1)));

# 1. the right password
ok($t->connected($redis, 3), 'the node with the right password is connected (two workers, the cache manager)');
is(node_metric($good, 'smile_webhook_redis_up'), 1, 'good: smile_webhook_redis_up 1');
my ($id1, $body1) = event(1);
my $r = deliver($good, $body1);
is("$r->{status} $r->{result}", '200 ok', 'good: forwarded');
is($redis->cli('-n', 3, 'GET', "auth:{$id1}"), 'delivered', 'the key is in db 3, under the prefix auth:');
is($redis->cli('-n', 0, 'EXISTS', "auth:{$id1}"), 0, 'not in db 0');
is($redis->cli('-n', 3, 'EXISTS', "smile:{$id1}"), 0, 'not under the default prefix');
$r = deliver($good, $body1);
is("$r->{status} $r->{result}", '200 duplicate', 'good: the duplicate');
is(node_metric($good, 'smile_webhook_redis_fallbacks_total'), 0, 'good: no fallback');

# 2. the wrong password, 3. none
for my $case ([$wrong, qr/^WRONGPASS /], [$none, qr/^NOAUTH /]) {
    my ($n, $why) = @$case;
    my $name = $n->{name};
    ok($t->eventually(5, sub { (node_metric($n, 'smile_webhook_redis_up') // 1) == 0 }),
       "$name: smile_webhook_redis_up 0");
    my ($id, $body) = event($name);
    $r = deliver($n, $body);
    is("$r->{status} $r->{result}", '200 ok', "$name: an event is forwarded (this node alone)");
    $r = deliver($n, $body);
    is("$r->{status} $r->{result}", '200 duplicate', "$name: its zone stops the duplicate");
    is(scalar app_got($app, $id), 1, "$name: the app got it once");
    is(node_metric($n, 'smile_webhook_redis_fallbacks_total', what => 'dedupe'), 1,
       "$name: the fallback is counted (the duplicate was the zone's: no fallback)");
    is($redis->cli('-n', 0, 'EXISTS', "smile:{$id}"), 0, "$name: nothing in Redis");
}
sleep $t->slow(1.5);    # a few more tries to connect
for my $case ([$wrong, qr/^WRONGPASS invalid username-password pair/], [$none, qr/^NOAUTH Authentication required/]) {
    my ($n, $why) = @$case;
    my @l = log_lines($n, $WARN);
    is(scalar @l, 1, "$n->{name}: one warn line, whatever the reconnections");
    like(($l[0] // '') =~ $WARN ? $1 : '', $why, "$n->{name}: it gives Redis's error");
    is(node_metric($n, 'smile_webhook_redis_outages_total'), 1, "$n->{name}: one outage");
    ok(log_lines($n, qr/\[info\] .*smile webhook: redis 127\.0\.0\.1:\d+: \Q${\ ($n == $wrong ? 'WRONGPASS' : 'NOAUTH')}\E/) >= 2,
       "$n->{name}: and it keeps trying (a line at info per failed connection)");
}

# 4. no Redis when nginx starts
my $nowhere = free_port();
my $alone = $t->node('alone', redis => "127.0.0.1:$nowhere " . $t->timeout(1));
ok($t->eventually(5, sub { (node_metric($alone, 'smile_webhook_redis_up') // 1) == 0 }),
   'no Redis at start: nginx runs, smile_webhook_redis_up 0');
my ($id4, $body4) = event(4);
$r = deliver($alone, $body4);
is("$r->{status} $r->{result}", '200 ok', 'no Redis at start: an event is forwarded');
my @l = log_lines($alone, $WARN);
is(scalar @l, 1, 'no Redis at start: one warn line');

my $logs = join '', map { (slurp("$_->{dir}/error.log") // '') . (slurp("$_->{dir}/access.log") // '') }
    $good, $wrong, $none;
unlike($logs, qr/\Q$PASSWORD\E/, 'the password is in no nginx log');
my @bad = map { log_lines($_, qr/\[(?:alert|crit|emerg)\]/) } $good, $wrong, $none, $alone;
is("@bad", '', 'no alert');

$t->done;
done_testing();
