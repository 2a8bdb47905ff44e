package Smile::Harness::Supervisor;

# The processes a harness script starts, and only those: each one is known
# by its pid, stopped by its pid (and its process group), never by name.
#
#   my $sv = Smile::Harness::Supervisor->new(keep => $ENV{..._KEEP},
#                                            out => \*STDERR);  # its messages
#   my $dir = $sv->workdir('smile-demo');   # under TMPDIR, removed at the end
#   $sv->spawn(backend => log => "$dir/backend.log", cmd => [...]);
#   $sv->stop('backend'); ...; $sv->respawn('backend', log => ...);
#   my ($port) = $sv->wait_for_output(backend => $log, qr/listening on \S+:(\d+)/);
#   my $port = $sv->start_nginx(nginx => ..., prefix => $dir, conf => ...,
#                               write => sub { my ($port) = @_; ... });
#   ...
#   my @left = $sv->stop_all;               # pids that would not go
#   $sv->finish($keep);                     # remove (or keep) the directory
#
# spawn() gives a process a process group of its own, so that stopping it
# also stops what it forked (nginx workers, backend children). A watchdog
# process learns every group and pid through a pipe: when the script dies
# without stopping them (kill -9), the pipe ends and the watchdog stops them
# and removes the work directory. INT, TERM and HUP stop everything and exit
# 130, 143, 129; so does the end of the script (END), whatever its path.

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Smile::Harness::HTTP qw(free_port can_connect wait_until);
use Smile::Harness::Util qw(PROG slurp red);

our @EXPORT_OK = qw(capture proc_table group_members nginx_children workers_of
                    nginx_version);

my @LIVE;    # supervisors of this process, for END

# ------------------------------------------------------------------ /proc

sub proc_table {    # pid => {ppid, pgrp, state}
    my %t;
    opendir my $d, '/proc' or return %t;
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $s = <$fh> // next;
        my ($rest) = $s =~ /^\d+ \(.*\) (.*)$/s or next;
        my ($state, $ppid, $pgrp) = split ' ', $rest;
        $t{$pid} = { ppid => $ppid, pgrp => $pgrp, state => $state };
    }
    return %t;
}

sub group_members {    # live (not zombie) processes of process group $pgid
    my ($pgid) = @_;
    my %t = proc_table();
    return grep { $t{$_}{pgrp} == $pgid && $t{$_}{state} ne 'Z' && $_ != $$ }
           keys %t;
}

# the live children of an nginx master whose title matches $re ("worker
# process", "cache manager process"; qr/./ for all), lowest pid first. Under a
# wrapper such as valgrind a child keeps the wrapper's command line (nginx
# sets its title in the guest's copy of argv): with log => the text of the
# master's error log (notice level or lower), such a child's title is what
# the master's "start ... process PID" line says
sub nginx_children {
    my ($master, $re, %o) = @_;
    my %t = proc_table();
    my %started;
    for my $l (split /\n/, $o{log} // '') {
        $started{$2} = $1 if $l =~ /\] $master#\d+: start (.+) (\d+)$/;
    }
    my @p;
    for my $pid (grep { $t{$_}{ppid} == $master && $t{$_}{state} ne 'Z' } keys %t) {
        my $cmd = slurp("/proc/$pid/cmdline") // next;
        $cmd =~ s/\0+$//;
        $cmd =~ s/\0+/ /g;
        $cmd = $started{$pid} if $cmd !~ /^nginx: / && $started{$pid};
        push @p, $pid if $cmd =~ $re;
    }
    return sort { $a <=> $b } @p;
}

# the worker processes of an nginx master, lowest pid first: those of the
# current generation, or with all => 1 those shutting down after a reload too;
# log => its error log file, for nginx under valgrind (see nginx_children;
# shutting-down workers cannot be told apart then)
sub workers_of {
    my ($master, %o) = @_;
    return nginx_children($master,
                          $o{all} ? qr/worker process/ : qr/worker process$/,
                          log => $o{log} ? slurp($o{log}) : undef);
}

# (exit status, stdout and stderr together) of @cmd
sub capture {
    my @cmd = @_;
    my $pid = open(my $fh, '-|') // die PROG . ": fork failed: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print "cannot run $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub nginx_version {
    my ($nginx) = @_;
    return (capture($nginx, '-v'))[1] =~ m{nginx/(\S+)} ? $1 : '?';
}

# ------------------------------------------------------------------ life

sub new {
    my ($class, %o) = @_;
    my $self = bless { main => $$, keep => $o{keep} ? 1 : 0, groups => {},
                       order => [], clients => {}, stopped => 0,
                       out => $o{out} // \*STDOUT }, $class;
    $SIG{PIPE} = 'IGNORE';
    $self->_watchdog;
    for my $sig (qw(INT TERM HUP)) {
        $SIG{$sig} = sub { $self->_on_signal($sig) };
    }
    push @LIVE, $self;
    return $self;
}

sub _on_signal {
    my ($self, $sig) = @_;
    POSIX::_exit(1) if $$ != $self->{main};    # a fork before its exec
    return if $self->{stopped};    # already stopping: that is bounded
    my @what = (%{ $self->{clients} } ? ('the clients') : (),
                reverse grep { $self->{groups}{$_} } @{ $self->{order} });
    $self->_say("\n$sig received: stopping ", join(', ', @what) || 'nothing', "...\n");
    my @left = $self->stop_all;
    $self->_say(red("still running: @left\n")) if @left;
    $self->finish($self->{keep});
    exit($sig eq 'INT' ? 130 : $sig eq 'TERM' ? 143 : 129);
}

END {
    my $rc = $?;
    $_->stop_all for grep { $_->{main} == $$ } @LIVE;
    $? = $rc;
}

# Lines to the watchdog: "G pgid", "P pid", "W directory", "done".
sub _watchdog {
    my ($self) = @_;
    pipe(my $r, my $w) or die PROG . ": pipe: $!\n";
    my $pid = fork // die PROG . ": fork: $!\n";
    if ($pid == 0) {
        $SIG{$_} = 'IGNORE' for qw(INT TERM HUP);
        setpgrp(0, 0);
        close $w;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        my (@groups, @pids, @dirs, $done);
        while (my $l = <$r>) {
            push @groups, $1 if $l =~ /^G (\d+)$/;
            push @pids, $1 if $l =~ /^P (\d+)$/;
            push @dirs, $1 if $l =~ /^W (.+)$/;
            $done = 1 if $l =~ /^done/;
        }
        if (!$done) {
            kill 'TERM', @pids, @groups;
            for (1 .. 60) {
                last unless map { group_members($_) } @groups;
                sleep 0.05;
            }
            kill 'KILL', @pids, map { -$_ } grep { group_members($_) } @groups;
            remove_tree($_) for @dirs;
        }
        POSIX::_exit(0);
    }
    close $r;
    $w->autoflush(1);
    @$self{qw(wd_pid wd_w)} = ($pid, $w);
    return;
}

sub _say { my ($self, @s) = @_; print { $self->{out} } @s; return }

sub _tell {
    my ($self, $line) = @_;
    print { $self->{wd_w} } "$line\n" if $self->{wd_pid};
    return;
}

# A new directory under TMPDIR (or $o{dir}, made if needed and always kept),
# readable by nginx workers that run as "nobody" under a root master.
sub workdir {
    my ($self, $template, %o) = @_;
    my $dir;
    if (defined $o{dir}) {
        $dir = $o{dir};
        -d $dir or make_path($dir)
            or $self->setup_failed("cannot make $dir: $!");
        $self->{keep} = 1;
    } else {
        $dir = tempdir("$template.XXXXXX", TMPDIR => 1);
        $self->_tell("W $dir") unless $self->{keep};
    }
    chmod 0755, $dir;
    return $self->{dir} = $dir;
}

# whether the work directory stays at the end; keep(0 or 1) changes it
sub keep {
    my ($self, @keep) = @_;
    $self->{keep} = $keep[0] ? 1 : 0 if @keep;
    return $self->{keep};
}

# the work directory goes, or stays (and says where) with $keep
sub finish {
    my ($self, $keep) = @_;
    my $dir = $self->{dir};
    return unless defined $dir && -d $dir && $$ == $self->{main};
    if ($keep) { $self->_say("Work directory kept: $dir\n") }
    else { remove_tree($dir) }
    return;
}

# a setup step failed: say why, stop everything, keep the files, exit 2
sub setup_failed {
    my ($self, $msg, $detail) = @_;
    $self->_say(red("\n" . PROG . ": $msg\n"));
    $self->_say("\n$detail\n") if defined $detail && length $detail;
    $self->stop_all;
    $self->finish(1);
    exit 2;
}

# ------------------------------------------------------------------ processes

# cmd => [...] in a process group of its own, stdin from /dev/null, stdout
# and stderr appended to log; env => {NAME => value} added to its environment
sub spawn {
    my ($self, $name, %o) = @_;
    my @cmd = @{ $o{cmd} };
    # one process per name: another one would be lost to stop() and stop_all()
    die PROG . ": spawn of $name, which still runs\n"
        if $self->{groups}{$name} && waitpid($self->{groups}{$name}, WNOHANG) == 0;
    my $pid = fork // die PROG . ": fork failed: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $o{log} or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "cannot run $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    setpgrp($pid, $pid);    # from this side too: no signal slips in between
    $self->_tell("G $pid");
    $self->{groups}{$name} = $pid;
    $self->{how}{$name} = { %o };
    push @{ $self->{order} }, $name unless grep { $_ eq $name } @{ $self->{order} };
    return $pid;
}

# $name again, once stopped, as spawn() was told the last time; %o changes
# some of that (a new log, say). An app coming back after an outage.
sub respawn {
    my ($self, $name, %o) = @_;
    my $how = $self->{how}{$name} or die PROG . ": respawn of unknown $name\n";
    die PROG . ": respawn of $name, which still runs\n" if $self->{groups}{$name};
    return $self->spawn($name, %$how, %o);
}

sub pid { my ($self, $name) = @_; return $self->{groups}{$name} }

# undef while $name runs; once it has exited, its wait status (and it is
# forgotten)
sub exited {
    my ($self, $name) = @_;
    my $pid = $self->{groups}{$name} // return 0;
    return undef if waitpid($pid, WNOHANG) == 0;
    delete $self->{groups}{$name};
    return $?;
}

# TERM (or $o{sig}) to $name, $o{grace} seconds (5) to exit, then KILL; then
# what it left in its group gets 3 s and KILL. Returns pids still alive.
sub stop {
    my ($self, $name, %o) = @_;
    my $pid = delete $self->{groups}{$name} or return ();
    kill $o{sig} // 'TERM', $pid;
    my $deadline = time + ($o{grace} // 5);
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) { kill 'KILL', -$pid, $pid; waitpid($pid, 0); last }
        sleep 0.02;
    }
    my @left = group_members($pid);
    $deadline = time + 3;
    while (@left && time < $deadline) { sleep 0.05; @left = group_members($pid) }
    if (@left) { kill 'KILL', -$pid; sleep 0.2; @left = group_members($pid) }
    return @left;
}

# a forked copy of this script running $code (then _exit 0), in our group
sub fork_client {
    my ($self, $code) = @_;
    my $pid = fork // return undef;
    if ($pid == 0) {
        close $self->{wd_w} if $self->{wd_w};    # the pipe must end with us
        $self->{wd_pid} = undef;
        $code->();
        POSIX::_exit(0);
    }
    $self->{clients}{$pid} = 1;
    $self->_tell("P $pid");
    return $pid;
}

# the clients that have exited since: (pid => wait status, ...)
sub reap_clients {
    my ($self) = @_;
    my @done;
    for my $pid (keys %{ $self->{clients} }) {
        next if waitpid($pid, WNOHANG) == 0;
        delete $self->{clients}{$pid};
        push @done, $pid, $?;
    }
    return @done;
}

sub clients { my ($self) = @_; return keys %{ $self->{clients} } }

# TERM to every client, 3 s (or $grace), then KILL
sub stop_clients {
    my ($self, $grace) = @_;
    my $c = $self->{clients};
    return unless %$c;
    kill 'TERM', keys %$c;
    my $deadline = time + ($grace // 3);
    while (%$c && time < $deadline) {
        $self->reap_clients or sleep 0.02;
    }
    if (%$c) {
        kill 'KILL', keys %$c;
        waitpid($_, 0) for keys %$c;
        %$c = ();
    }
    return;
}

# everything, last started first; the watchdog is told all went well.
# Returns the pids still alive (there should be none). Once only.
sub stop_all {
    my ($self) = @_;
    return () if $self->{stopped}++ || $$ != $self->{main};
    $self->stop_clients;
    my @left;
    push @left, $self->stop($_) for reverse @{ $self->{order} };
    if ($self->{wd_pid}) {
        print { $self->{wd_w} } "done\n";
        close $self->{wd_w};
        waitpid($self->{wd_pid}, 0);
        $self->{wd_pid} = undef;
    }
    return @left;
}

# ------------------------------------------------------------------ waiting

# the first capture of $re in file $log once it shows up there, within
# $seconds (5); undef if it does not or $name exits first
sub wait_for_output {
    my ($self, $name, $log, $re, $seconds) = @_;
    my @m;
    wait_until($seconds // 5, sub {
        @m = (slurp($log) // '') =~ $re;
        return 1 if @m || defined $self->exited($name);
        return 0;
    });
    return $m[0];
}

# true once something accepts connections on 127.0.0.1:$port, within
# $seconds (5); false if it does not or $name exits first
sub wait_for_port {
    my ($self, $name, $port, $seconds) = @_;
    my $up = 0;
    wait_until($seconds // 5, sub {
        return 1 if defined $self->exited($name);
        return $up = can_connect($port);
    });
    return $up;
}

# ------------------------------------------------------------------ nginx

# nginx -t on a configuration; a failure fails the setup
sub nginx_test {
    my ($self, %o) = @_;
    my $log = "$o{prefix}/nginx-t.log";
    unlink $log;
    my ($rc, $out) = capture($o{nginx}, '-t', '-q', '-e', $log,
                             '-p', "$o{prefix}/", '-c', $o{conf});
    $self->setup_failed("nginx rejected the configuration $o{conf}:",
                        $out . (slurp($log) // '')) if $rc != 0;
    return;
}

# Starts nginx (not daemonized: its configuration says "daemon off") under
# the name $o{name} ("nginx"), on a free port (or $o{port}):
#   nginx, prefix, conf       binary, prefix directory, configuration path
#   errlog                    nginx -e (PREFIX/error.log)
#   write => sub { $port }    writes the configuration for that port
#   v6                        the port must be free on ::1 too
#   wrap => [cmd...]          run nginx through this (taskset -c N)
#   seconds                   how long it may take to listen (10)
# Each attempt writes and tests the configuration, starts nginx and waits
# for the port; a port taken meanwhile means another try (3 in all).
# Returns the port; anything else fails the setup.
sub start_nginx {
    my ($self, %o) = @_;
    my $name = $o{name} // 'nginx';
    my $errlog = $o{errlog} // "$o{prefix}/error.log";
    my $stderr = "$o{prefix}/nginx.stderr";
    # an nginx built from source with the default layout opens its default
    # access log, logs/access.log under -p, when the configuration sets none
    mkdir "$o{prefix}/logs";
    for my $attempt (1 .. 3) {
        my $port = $o{port} // free_port(v6 => $o{v6})
            // $self->setup_failed('cannot find a free port');
        $o{write}->($port);
        $self->nginx_test(%o);
        unlink $errlog;
        $self->spawn($name, log => $stderr,
                     cmd => [ @{ $o{wrap} // [] }, $o{nginx}, '-e', $errlog,
                              '-p', "$o{prefix}/", '-c', $o{conf} ]);
        return $port if $self->wait_for_port($name, $port, $o{seconds} // 10);
        my $why = join '', grep { defined } slurp($stderr), slurp($errlog);
        $self->stop($name);
        next if $why =~ /Address already in use/ && $attempt < 3 && !$o{port};
        $self->setup_failed("$name did not start", $why);
    }
    return;
}

1;
