package SmileRedis;

# What the Redis tests (t/011-*.t and after) share. They are plain Test::More
# scripts, not Test::Nginx blocks: each one runs a real redis-server and two
# nginx nodes sharing it, and stops, kills and restarts them in the middle
# of a scenario, which Test::Nginx's one-nginx-per-block model does not
# give. Processes are started and stopped by the harness library
# (tools/lib/Smile/Harness/), by pid; the app is demo/backend.pl.
#
#   my $t = SmileRedis->new;           # work directory, supervisor
#   my $redis = $t->redis(password => ...);
#   my $app = $t->app;
#   my $a = $t->node('a', redis => $t->redis_arg($redis, 'timeout=1s'));
#   $t->connected($redis, 6) or BAIL_OUT(...);
#   $t->done;                          # stop all, valgrind check, cleanup
#
# Under `make test-valgrind` (TEST_NGINX_USE_VALGRIND) the nodes run under
# valgrind's memcheck; $t->slow(N) gives N seconds times the slow-down;
# done() fails the test for any valgrind record whose stack names the
# module (TEST_NGINX_VALGRIND_MATCH, default smile_webhook).
#
# SMILE_TEST_KEEP=1 keeps the work directory (it is kept after a failure).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__)) . '/../../tools/lib';
use Test::More ();
use Time::HiRes qw(time sleep);
use Smile::Harness::Cluster qw(start_app start_node);
use Smile::Harness::HTTP qw(wait_until);
use Smile::Harness::Redis;
use Smile::Harness::Supervisor;
use Smile::Harness::Util qw(module_path nginx_path slurp);

sub nginx_bin { return $ENV{TEST_NGINX_REAL_BINARY} || nginx_path() }

# the module the suite loads (TEST_NGINX_LOAD_MODULES), or build/...so
sub smile_module {
    my ($m) = grep { /smile_webhook/ } split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    return $m // module_path();
}

sub valgrind { return $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0 }

sub new {
    my ($class) = @_;
    my $why = Smile::Harness::Redis::missing();
    Test::More::BAIL_OUT("redis-server is needed: $why") if $why;
    my $sv = Smile::Harness::Supervisor->new(keep => $ENV{SMILE_TEST_KEEP},
                                             out => \*STDERR);
    my $self = bless { sv => $sv, nodes => {} }, $class;
    $self->{work} = $sv->workdir('smile-redis-test');
    chmod 0755, $self->{work};
    return $self;
}

sub sv   { return $_[0]{sv} }
sub work { return $_[0]{work} }

# $seconds, longer under valgrind
sub slow {
    my ($self, $seconds) = @_;
    return valgrind() ? $seconds * ($ENV{TEST_NGINX_VALGRIND_TIMEOUT_FACTOR} || 4)
                      : $seconds;
}

# "timeout=...": $seconds for smile_webhook_redis, ten times that under
# valgrind (a reply is late when the process could not read it in time
# either, and a worker's first seconds under valgrind are slow)
sub timeout {
    my ($self, $seconds) = @_;
    return sprintf 'timeout=%dms', $self->timeout_ms($seconds);
}

sub timeout_ms {
    my ($self, $seconds) = @_;
    return 1000 * $seconds * (valgrind() ? 10 : 1);
}

sub redis {
    my ($self, %o) = @_;
    my $name = $o{name} // 'redis';
    return Smile::Harness::Redis->start($self->{sv}, name => $name,
                                        dir => "$self->{work}/$name", %o);
}

# the arguments of smile_webhook_redis for $redis, with more parameters
sub redis_arg {
    my ($self, $redis, @more) = @_;
    return join ' ', '127.0.0.1:' . $redis->port, @more;
}

# the app (demo/backend.pl, "app"), or another one ($name, its own log)
sub app {
    my ($self, $name) = @_;
    my $app = start_app($self->{sv}, "$self->{work}/" . ($name // 'app') . '.log',
                        name => $name // 'app');
    $self->{apps}{ $app->{name} } = $app;
    return $name ? $app : ($self->{app} = $app);
}

# an app again on its port, after $sv->stop($name // 'app')
sub app_again {
    my ($self, $name) = @_;
    my $app = $self->{apps}{ $name // 'app' };
    return start_app($self->{sv}, $app->{log}, name => $app->{name}, port => $app->{port});
}

sub node {
    my ($self, $name, %o) = @_;
    my @wrap;
    if (valgrind()) {
        @wrap = ('valgrind', '--tool=memcheck', '--leak-check=full',
                 '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
                 '--num-callers=40',
                 "--log-file=$self->{work}/$name/valgrind.%p.log");
        mkdir "$self->{work}/$name";
    }
    my $node = start_node($self->{sv}, name => $name, dir => "$self->{work}/$name",
                          app => $self->{app}, nginx => nginx_bin(),
                          module => smile_module(),
                          (@wrap ? (wrap => \@wrap, seconds => 120) : ()), %o);
    return $self->{nodes}{$name} = $node;
}

sub stop_node {
    my ($self, $node) = @_;
    return Smile::Harness::Cluster::stop_node($self->{sv}, $node, $self->slow(15));
}

# true once Redis has $n client connections besides redis-cli's own (every
# worker and cache manager of the nodes has one), within $seconds (10)
sub connected {
    my ($self, $redis, $n, $seconds) = @_;
    return wait_until($self->slow($seconds // 10), sub {
        my $list = $redis->cli('CLIENT', 'LIST') // return 0;
        return (grep { !/\bcmd=client\b/ } split /\n/, $list) >= $n;
    }, 0.1);
}

# calls $cond until it is true, within $seconds (slowed under valgrind)
sub eventually {
    my ($self, $seconds, $cond) = @_;
    return wait_until($self->slow($seconds), $cond, 0.1);
}

# valgrind records of the nodes whose stack names the module
sub valgrind_problems {
    my ($self) = @_;
    my $match = $ENV{TEST_NGINX_VALGRIND_MATCH} || 'smile_webhook';
    my @found;
    for my $file (glob "$self->{work}/*/valgrind.*.log") {
        my @record;
        for my $line (split /\n/, slurp($file) // '', -1) {
            my ($text) = $line =~ /^==\d+==\s?(.*)$/ or next;
            if ($text =~ /\S/) { push @record, $text; next }
            push @found, join("\n", @record)
                if grep({ /^\s+(?:at|by) 0x/ } @record) && grep({ /\Q$match\E/ } @record);
            @record = ();
        }
    }
    return @found;
}

# everything stopped; under valgrind, its verdict; the work directory
# removed unless a test failed or SMILE_TEST_KEEP is set
sub done {
    my ($self) = @_;
    my @left = $self->{sv}->stop_all;
    Test::More::is("@left", '', 'no process left behind');
    if (valgrind()) {
        my @bad = $self->valgrind_problems;
        Test::More::diag($_) for @bad;
        Test::More::is(scalar @bad, 0, 'valgrind: no record in the module');
    }
    my $failed = grep { !$_ } Test::More->builder->summary;
    $self->{sv}->finish($failed || $ENV{SMILE_TEST_KEEP});
    return;
}

1;
