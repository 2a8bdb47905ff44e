# Requests that end without an answer while they hold a claim in Redis:
# Smile gives up (closes the connection) while the app still works on the
# event. The worker must go on, and the claim must be released for
# Smile's retry, on this node or another (see t/lib/SmileRedis.pm for the
# set-up).
#
# With the module as built on main at 341d5d5 these failed: the request's
# end without a response header settles the claim from the
# request pool's cleanup, where r->pool is already NULL
# (ngx_http_free_request), and ngx_http_smile_webhook_dedupe_unclaim()
# allocates the key from it: the worker dies with SIGSEGV
# (ngx_pnalloc <- _dedupe_key <- _dedupe_unclaim <- _dedupe_release <-
# _dedupe_cleanup <- ngx_destroy_pool <- ngx_http_free_request).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SmileRedis;
use Smile::Harness::Cluster qw(deliver app_got node_metric log_lines);
use Smile::Harness::Events qw(fresh_event);
use Smile::Harness::Supervisor qw(workers_of);
use Test::More;
use Time::HiRes qw(time sleep);

my $t = SmileRedis->new;
my $redis = $t->redis;
my $app = $t->app;
my %node = map { $_ => $t->node($_, redis => $t->redis_arg($redis, $t->timeout(1))) } qw(a b);
my ($A, $B) = @node{qw(a b)};
my $TAG = sprintf '%x%04x', time, $$;
sub event { my ($n) = @_; my $id = "ev-$TAG-$n"; return ($id, fresh_event(id => $id)) }
my $CRASH = qr/exited on signal/;

ok($t->connected($redis, 6), 'both nodes are connected');
# (under valgrind the workers are told by the master's notices in its log)
my @alog = (log => "$A->{dir}/error.log");
my @workers = workers_of($t->sv->pid($A->{proc}), @alog);
is(scalar @workers, 2, "A's workers: @workers");

for my $k (1 .. 3) {
    my ($id, $body) = event("gone$k");
    # the app holds the event 2 s; Smile gives up after 0.5 s
    my $r = deliver($A, $body, timeout => 0.5, headers => [['X-Demo-Hold', 2]]);
    ok($r->{error}, "Smile gives up while the app holds the event ($k): " . ($r->{error} // "$r->{status}"));
    ok($t->eventually(5, sub { app_got($app, $id) }), "the app got it ($k)");
    sleep $t->slow(0.5);
    {
        is(join(' | ', log_lines($A, $CRASH)), '', "no worker died ($k)");
        is($redis->cli('GET', "smile:{$id}"), '', "the claim is released ($k)");
    }
    $r = deliver($B, $body);
    {
        is("$r->{status} $r->{result}", '200 ok', "Smile's retry on B goes through ($k)");
    }
}
my @now = workers_of($t->sv->pid($A->{proc}), @alog);
{
    is("@now", "@workers", "A's workers are the same processes");
}

$t->done;
done_testing();
