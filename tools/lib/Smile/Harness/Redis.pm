package Smile::Harness::Redis;

# A redis-server of the harness's own (Debian's redis-server package), for
# smile_webhook_redis: started by a Supervisor (known and stopped by its
# pid), on 127.0.0.1 and a free port, its files in a directory of its own;
# and redis-cli to look at what the module stored.
#
#   my $redis = Smile::Harness::Redis->start($sv, dir => "$work/redis",
#                                            password => 'x');  # optional
#   $redis->port; $redis->cli('GET', 'smile:{ev-1}');          # its text
#   $redis->stop;  $redis->stop(sig => 'KILL');                 # gone
#   $redis->start_again;                # the same port, files and password
#   $redis->pause; $redis->resume;      # SIGSTOP / SIGCONT: a Redis that
#                                       # does not answer in time
#
# Options of start: name ("redis": the Supervisor's name for it), dir
# (made if needed), port (default: a free one), password (requirepass;
# written to DIR/redis.conf, never on a command line: redis-cli gets it in
# REDISCLI_AUTH), persist (appendonly with appendfsync always: what was
# acknowledged survives a kill -9 and a restart; default: no persistence
# at all, --save "" and appendonly no), seconds (how long it may take to
# answer PING, 10), wrap (a command to run it through: taskset -c N).
# Loopback only, protected mode on.

use strict;
use warnings;

use Time::HiRes qw(time sleep);
use Smile::Harness::HTTP qw(free_port wait_until);
use Smile::Harness::Supervisor qw(capture);
use Smile::Harness::Util qw(slurp spew);

our $SERVER = $ENV{REDIS_SERVER} // '/usr/bin/redis-server';
our $CLI    = $ENV{REDIS_CLI} // '/usr/bin/redis-cli';

# why redis-server cannot be used here, or undef when it can
sub missing {
    return "$SERVER not found (apt-get install redis-server)" unless -x $SERVER;
    return "$CLI not found (apt-get install redis-tools)" unless -x $CLI;
    return undef;
}

sub version {
    my ($rc, $out) = capture($SERVER, '--version');
    return $out =~ /\bv=(\S+)/ ? $1 : '?';
}

sub start {
    my ($class, $sv, %o) = @_;
    my $self = bless { sv => $sv, name => $o{name} // 'redis', dir => $o{dir},
                       password => $o{password}, persist => $o{persist},
                       wrap => $o{wrap} // [], seconds => $o{seconds} // 10 }, $class;
    my $why = missing();
    $sv->setup_failed($why) if $why;
    -d $self->{dir} or mkdir $self->{dir}
        or $sv->setup_failed("cannot make $self->{dir}: $!");
    for my $attempt (1 .. 3) {
        $self->{port} = $o{port} // free_port()
            // $sv->setup_failed('cannot find a free port for redis-server');
        $self->_write_conf;
        return $self if $self->_run;
        my $log = slurp("$self->{dir}/redis.log") // '';
        $sv->stop($self->{name});
        next if $log =~ /Address already in use/ && !$o{port} && $attempt < 3;
        $sv->setup_failed("redis-server did not start on port $self->{port}", $log);
    }
    return $self;
}

sub _write_conf {
    my ($self) = @_;
    my $persist = $self->{persist}
        ? "appendonly yes\nappendfsync always\nappenddirname appendonly\n"
        : "appendonly no\n";
    my $auth = defined $self->{password} ? "requirepass \"$self->{password}\"\n" : '';
    spew("$self->{dir}/redis.conf", <<"EOF");
# written by the harness (tools/lib/Smile/Harness/Redis.pm)
bind 127.0.0.1
port $self->{port}
protected-mode yes
daemonize no
dir $self->{dir}
logfile ""
save ""
${persist}${auth}databases 16
EOF
    chmod 0600, "$self->{dir}/redis.conf";
    return;
}

# spawns the server and waits until it answers PING
sub _run {
    my ($self) = @_;
    my $sv = $self->{sv};
    $sv->spawn($self->{name}, log => "$self->{dir}/redis.log",
               cmd => [ @{ $self->{wrap} }, $SERVER, "$self->{dir}/redis.conf" ]);
    return wait_until($self->{seconds}, sub {
        return 0 if defined $sv->exited($self->{name});
        return ($self->cli('PING') // '') =~ /^PONG/;
    }, 0.05);
}

sub port { return $_[0]{port} }
sub pid  { my ($self) = @_; return $self->{sv}->pid($self->{name}) }
sub dir  { return $_[0]{dir} }

# what redis-cli prints for one command (its raw output, the final newline
# removed; an error reply is its text), or undef when it cannot connect
sub cli {
    my ($self, @args) = @_;
    local $ENV{REDISCLI_AUTH};
    if (defined $self->{password}) { $ENV{REDISCLI_AUTH} = $self->{password} }
    else { delete $ENV{REDISCLI_AUTH} }
    my ($rc, $out) = capture($CLI, '-h', '127.0.0.1', '-p', $self->{port},
                             '--no-auth-warning', @args);
    return undef if $rc != 0 || $out =~ /^Could not connect/;
    $out =~ s/\n\z//;
    return $out;
}

# TERM (or $o{sig}: KILL for a crash); returns the pids left (none)
sub stop {
    my ($self, %o) = @_;
    return $self->{sv}->stop($self->{name}, sig => $o{sig} // 'TERM');
}

# started again as before: the same port, directory and password (with
# persist, what it had written is loaded); false if it does not answer
sub start_again {
    my ($self) = @_;
    my $deadline = time + 10;
    while (1) {
        return 1 if $self->_run;
        my $log = slurp("$self->{dir}/redis.log") // '';
        $self->{sv}->stop($self->{name});
        return 0 unless $log =~ /Address already in use/ && time < $deadline;
        sleep 0.2;
    }
}

# stopped in its tracks (SIGSTOP: connections stay open, nothing is
# answered), then going on (SIGCONT)
sub pause  { my ($self) = @_; return kill 'STOP', $self->pid }
sub resume { my ($self) = @_; return kill 'CONT', $self->pid }

1;
