package SmileSpool;

# What t/009-spool.t and t/010-replay.t share: an app made of stock nginx
# (no lua, no echo), the spool directory seen from outside, the nginx
# processes of a block, and a "--- after_response" section that runs Perl
# checks after each response of a block.
#
# The app: two servers in the test's own nginx, added to every block (but
# "--- must_die" ones) by with_spool_app():
#
#   127.0.0.1:$TEST_NGINX_APP_PORT  keeps every request body in a file of
#       html/bodies/ (client_body_in_file_only) and logs what it received
#       to logs/app.log (format "smile_app", parsed by app_log()), then
#       proxies to
#   unix:logs/answer.sock           the app's answer, steered by flag files
#       in html/ (set with app_mode()): app-503, app-429, app-400 ("no such
#       user"), app-slow (waits for the test's "stuck" listener: see
#       stuck_accept()), else 200 "app ok".
#
# In the test server (the one with the blocks' locations), $app is where
# "proxy_pass http://$app" goes: the app, or with the flag app-down a port
# where nothing listens (connection refused), or with app-stuck the
# "stuck" listener, which takes connections and never answers.
#
# Ports: TEST_NGINX_SPOOL_PORTS=N makes the app, the "down" and the "stuck"
# ports the first free ones from N up; by default the kernel picks them.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__)) . '/../../tools/lib';

use Exporter qw(import);
use IO::Socket::INET;
require Test::Nginx::Socket;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time sleep);
use Smile::Harness::HTTP qw(free_port wait_until);
use Smile::Harness::Supervisor qw(proc_table capture nginx_children);
use Smile::Harness::Util qw(slurp spew);
use SmileTest qw(sign);
use SmileApp qw(hdrs);

our @EXPORT = qw(with_spool_app after_response app_mode spool_dir
                 events_in temps_in read_record record_text app_log app_log_wait
                 app_body errlog errlog_count wait_for tname
                 master_pid children_of worker_pid cache_manager_pid
                 reload_nginx restart_nginx stop_nginx start_nginx
                 raw_post read_answer stuck_accept stuck_drain
                 status_spool_lines status_lines make_unwritable
                 hold_fsync release_held slurp spew sign wait_until
                 created_at_of client_hdrs the_record check_record);

our $Block;          # the block whose after_response code runs

my $STUCK;           # the listener that takes connections, never answers
my @HELD;            # connections taken from it
my @UNDO;            # what to put back if a block dies half-way
my @STRACES;         # strace processes this test started

# ---------------------------------------------------------------- ports

sub _port_from {
    my ($base, $taken) = @_;
    for my $p ($base .. $base + 999) {
        next if $taken->{$p};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $p, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1) or next;
        close $s;
        $taken->{$p} = 1;
        return $p;
    }
    die "no free port from $base\n";
}

# the three ports and the stuck listener, at load time (before the blocks'
# configurations are expanded)
{
    my $base = $ENV{TEST_NGINX_SPOOL_PORTS};
    my %taken;
    my $pick = sub {
        return $base ? _port_from($base, \%taken) : free_port();
    };

    $ENV{TEST_NGINX_APP_PORT} ||= $pick->();
    $ENV{TEST_NGINX_DEAD_PORT} ||= $pick->();

    my $p = $ENV{TEST_NGINX_STUCK_PORT} || ($base ? $pick->() : 0);
    $STUCK = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p,
                                   Proto => 'tcp', Listen => 128,
                                   ReuseAddr => 1)
        or die "cannot listen on 127.0.0.1:$p: $!\n";
    $ENV{TEST_NGINX_STUCK_PORT} = $STUCK->sockport;
}

# ---------------------------------------------------------------- config

our $HTTP_CONFIG = <<'_EOC_';
    log_format smile_app '$msec $request_method $request_uri $status '
                         'id="$http_x_smile_event_id" '
                         'attempt="$http_x_smile_delivery_attempt" '
                         'replay="$http_x_smile_replay" '
                         'custom="$http_x_smile_custom" '
                         'trace="$http_x_custom_trace" '
                         'sig="$http_smile_signature" '
                         'body="$request_body_file"';

    server {
        listen 127.0.0.1:$TEST_NGINX_APP_PORT;
        server_name app;
        access_log $TEST_NGINX_SERVER_ROOT/logs/app.log smile_app;
        client_max_body_size 0;
        client_body_in_file_only on;
        client_body_temp_path $TEST_NGINX_SERVER_ROOT/html/bodies;

        location / {
            proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/logs/answer.sock:;
            proxy_read_timeout 60s;
        }
    }

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/logs/answer.sock;
        server_name answer;
        access_log off;

        location / {
            if (-f $TEST_NGINX_SERVER_ROOT/html/app-503) {
                return 503;
            }
            if (-f $TEST_NGINX_SERVER_ROOT/html/app-429) {
                return 429;
            }
            if (-f $TEST_NGINX_SERVER_ROOT/html/app-400) {
                return 400 "no such user\n";
            }
            if (-f $TEST_NGINX_SERVER_ROOT/html/app-slow) {
                rewrite ^ /.slow last;
            }
            return 200 "app ok\n";
        }

        location = /.slow {
            internal;
            proxy_pass http://127.0.0.1:$TEST_NGINX_STUCK_PORT;
            proxy_read_timeout 60s;
            error_page 502 504 = @slow_ok;
        }

        location @slow_ok {
            return 200 "app ok, slowly\n";
        }
    }
_EOC_

our $APP_SWITCH = <<'_EOC_';
    set $app 127.0.0.1:$TEST_NGINX_APP_PORT;
    if (-f $TEST_NGINX_SERVER_ROOT/html/app-down) {
        set $app 127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
    if (-f $TEST_NGINX_SERVER_ROOT/html/app-stuck) {
        set $app 127.0.0.1:$TEST_NGINX_STUCK_PORT;
    }
_EOC_

# block preprocessor: the app in http{}, the $app switch in the server
sub with_spool_app {
    my ($block) = @_;

    # a block that died half-way left the spool unwritable: put it back
    $_->() for reverse @UNDO;
    @UNDO = ();

    return if defined $block->must_die;

    my $http = $block->http_config;
    $block->set_value('http_config',
                      (defined $http ? $http : '') . $HTTP_CONFIG);

    if (defined $block->config) {
        $block->set_value('config', $APP_SWITCH . $block->config);
    }
}

my @MODES = qw(app-down app-stuck app-503 app-429 app-400 app-slow);

# the app's state from now on: "up", or one of down, stuck, 503, 429, 400,
# slow
sub app_mode {
    my ($mode) = @_;
    my $html = Test::Nginx::Util::html_dir();
    unlink "$html/$_" for @MODES;
    return if $mode eq 'up';
    die "unknown app mode $mode\n" unless grep { $_ eq "app-$mode" } @MODES;
    spew("$html/app-$mode", "$mode\n");
}

# ---------------------------------------------------------------- checks

# "--- after_response eval": a sub, or an array of them (one per response,
# undef to skip one), called as CODE->($block, $body, $index) after the
# response's own checks; they make their own Test::More assertions.  The
# eval filter compiles in package Test::Base::Filter: the code starts with
# "package main;" to see the test file's names and these.
push @Test::Nginx::Socket::ExtraSections, 'after_response';

sub after_response {
    my ($block, $body, $idx) = @_;
    my $code = $block->after_response;
    return unless defined $code;
    $code = $code->[$idx] if ref $code eq 'ARRAY';
    return unless defined $code;
    die $block->name . " - --- after_response is not code\n"
        unless ref $code eq 'CODE';
    local $Block = $block;
    $code->($block, $body, $idx);
}

# a test name in the running block
sub tname {
    my ($what) = @_;
    return ($Block ? $Block->name : $0) . " - $what";
}

sub wait_for {
    my ($seconds, $cond) = @_;
    return wait_until($seconds, $cond, 0.05);
}

# ---------------------------------------------------------------- spool

sub spool_dir {
    my ($name) = @_;
    return Test::Nginx::Util::server_root() . '/logs/' . ($name || 'spool');
}

sub _names {
    my ($dir, $re) = @_;
    opendir my $d, $dir or return ();
    my @n = sort grep { /$re/ && -f "$dir/$_" } readdir $d;
    closedir $d;
    return @n;
}

# the event files (ev-RECEIVED-ATTEMPTS-ID) of a directory, sorted
sub events_in { return _names($_[0] // spool_dir(), qr/^ev-/) }

sub temps_in { return _names($_[0] // spool_dir(), qr/^tmp-/) }

# a record: { text (all of it), head (up to the blank line), fields (the
# "name: value" lines but header:), headers ([name, value] of the
# "header:" lines), body }
sub read_record {
    my ($file) = @_;
    my $text = slurp($file);
    return undef unless defined $text;
    my ($head, $body) = split /\n\n/, $text, 2;
    my (%f, @h);
    for my $line (split /\n/, $head) {
        if ($line =~ /^header: ([^:]+): (.*)$/) {
            push @h, [$1, $2];
        } elsif ($line =~ /^([a-z-]+): (.*)$/) {
            $f{$1} = $2;
        }
    }
    return { text => $text, head => $head, fields => \%f, headers => \@h,
             body => $body };
}

# the text a record must have: received, id, type, created-at, user-id,
# uri, host, headers ([name, value], ...), body; socket defaults to the
# spool's
sub record_text {
    my (%r) = @_;
    my $socket = $r{socket} // spool_dir() . '/replay.sock';
    return "SMILE-SPOOL 1\nreceived: $r{received}\nsocket: $socket\n"
           . "host: " . ($r{host} // 'localhost') . "\nuri: $r{uri}\n"
           . "id: $r{id}\ntype: $r{type}\ncreated-at: $r{created_at}\n"
           . "user-id: $r{user_id}\n"
           . join('', map { "header: $_->[0]: $_->[1]\n" } @{ $r{headers} })
           . "length: " . length($r{body}) . "\n\n$r{body}";
}

# the createdAt of one of our events
sub created_at_of {
    my ($body) = @_;
    return $body =~ /"createdAt":"([^"]+)"/ ? $1 : '';
}

# what a block sends: the event, its signature, and headers of the client
# that a record keeps (Content-Type, X-Custom-Trace) or drops (X-Smile-*)
sub client_hdrs {
    my ($body) = @_;
    return hdrs($body, undef, 'Content-Type: application/json',
                'X-Smile-Event-Id: forged', 'X-Smile-Custom: from the client',
                'X-Custom-Trace: t-1');
}

# the one event file of the spool: checks there is exactly one (with
# $attempts, 1 by default), that no temporary file is left, and returns
# (its name, received, the record)
sub the_record {
    my ($id, $attempts) = @_;
    my $dir = spool_dir();
    my @ev = events_in($dir);
    is(join(' ', @ev) =~ s/^ev-\d+-/ev-RECEIVED-/r,
       "ev-RECEIVED-" . ($attempts // 1) . "-$id", tname("one event file"));
    is(join(' ', temps_in($dir)), '', tname("no temporary file left"));
    return () unless @ev == 1;
    my ($received) = $ev[0] =~ /^ev-(\d+)-/;
    return ($ev[0], $received, read_record("$dir/$ev[0]"));
}

# checks the record of $body, sent to $uri (/hook) with client_hdrs(): its
# text byte for byte, its mode and owner; returns the record
sub check_record {
    my ($body, $uri) = @_;
    my ($id) = $body =~ /"id":"([^"]+)"/;
    my ($type) = $body =~ /"type":"([^"]+)"/;
    my ($name, $received, $r) = the_record($id);
    return undef unless $r;
    ok(abs($received - time) < 60, tname("received is now ($received)"));
    is($r->{text},
       record_text(received => $received, uri => $uri // '/hook', id => $id,
                   type => $type, created_at => created_at_of($body),
                   user_id => 'tenantId-fresh',
                   headers => [['Smile-Signature', sign($body)],
                               ['Content-Type', 'application/json'],
                               ['X-Custom-Trace', 't-1']],
                   body => $body),
       tname("the record, byte for byte"));
    my @st = stat(spool_dir() . "/$name");
    is(sprintf('%o', $st[2] & 07777), '600', tname("the record's mode"));
    is($st[4], $>, tname("the record's owner is the workers' user"));
    return $r;
}

# ---------------------------------------------------------------- logs

# what the app received: a list of { time, method, uri, status, id,
# attempt, replay, custom, trace, sig, body (the file's name) }, "-" for an
# absent header
sub app_log {
    my $log = slurp(Test::Nginx::Util::server_root() . '/logs/app.log');
    return () unless defined $log;
    my @r;
    for my $line (split /\n/, $log) {
        my ($t, $m, $uri, $status, $rest) = split / /, $line, 5;
        my %e = (time => $t, method => $m, uri => $uri, status => $status);
        $e{$1} = $2 while $rest =~ /(\w+)="([^"]*)"/g;
        push @r, \%e;
    }
    return @r;
}

# app_log() once it has $n entries (the app logs after it answered), or
# what it has after 5 s
sub app_log_wait {
    my ($n) = @_;
    wait_for(5, sub { app_log() >= $n });
    return app_log();
}

# the body the app received, as the app stored it
sub app_body {
    my ($entry) = @_;
    return undef if !$entry->{body} || $entry->{body} eq '-';
    return slurp($entry->{body});
}

sub errlog {
    return slurp(Test::Nginx::Util::server_root() . '/logs/error.log') // '';
}

sub errlog_count {
    my ($re) = @_;
    my @m = errlog() =~ /$re/g;
    return scalar @m;
}

# ---------------------------------------------------------------- status

sub status_lines {
    my ($body, $re) = @_;
    return join '', grep { /$re/ } split /^/, $body;
}

# the spool families of a status text, HELP and TYPE lines left out
sub status_spool_lines {
    my ($body) = @_;
    return status_lines($body, qr/^smile_webhook_spool_/);
}

# ---------------------------------------------------------------- nginx

sub master_pid {
    my $pid = slurp(Test::Nginx::Util::server_root() . '/logs/nginx.pid');
    return 0 unless defined $pid && $pid =~ /^(\d+)/;
    return $1;
}

# live children of the master whose title matches $re ("worker process",
# "cache manager process"; qr/./ for all), told apart under valgrind by the
# master's lines in the error log
sub children_of {
    my ($master, $re) = @_;
    return nginx_children($master, $re, log => errlog());
}

sub worker_pid {
    my @w = children_of(master_pid(), qr/worker process$/);
    return $w[0];
}

sub cache_manager_pid {
    my @c = children_of(master_pid(), qr/cache manager process$/);
    return $c[0];
}

sub _alive { my ($pid) = @_; my %t = proc_table();
             return $t{$pid} && $t{$pid}{state} ne 'Z' }

# HUP, then until the workers and the cache manager are new ones and the
# old ones have gone
sub reload_nginx {
    my $master = master_pid();
    my @old = children_of($master, qr/./);
    kill 'HUP', $master or die "cannot HUP $master: $!\n";
    return wait_for(60, sub {
        my @now = children_of($master, qr/worker process$|cache manager/);
        my %old = map { $_ => 1 } @old;
        return !grep({ _alive($_) } @old)
               && @now >= 2 && !grep { $old{$_} } @now;
    });
}

sub stop_nginx {
    my $master = master_pid();
    my @all = ($master, children_of($master, qr/./));
    kill 'QUIT', $master or die "cannot QUIT $master: $!\n";
    return wait_for(60, sub { !grep { _alive($_) } @all });
}

# nginx started again the way Test::Nginx starts it (under valgrind too,
# where it stays in the foreground: not waited for), until its master has a
# worker and a cache manager
sub start_nginx {
    my $root = Test::Nginx::Util::server_root();
    my @cmd = ($Test::Nginx::Util::NginxBinary, '-p', "$root/",
               '-c', "$root/conf/nginx.conf");
    @cmd = Test::Nginx::Util::valgrind_cmd()
        if $Test::Nginx::Util::UseValgrind
           && defined &Test::Nginx::Util::valgrind_cmd;
    unlink "$root/logs/nginx.pid";
    my $pid = fork() // die "fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { no warnings 'exec'; exec @cmd; }
        POSIX::_exit(127);
    }
    # under valgrind nginx stays our child: Test::Nginx stops it (its
    # ChildPid) at the end of the block, and unlinks the pid file
    $Test::Nginx::Util::ChildPid = $pid if $Test::Nginx::Util::UseValgrind;
    return wait_for(60, sub {
        waitpid($pid, WNOHANG) unless $Test::Nginx::Util::UseValgrind;
        my $m = master_pid();
        return $m && _alive($m) && cache_manager_pid() && worker_pid();
    });
}

sub restart_nginx { return stop_nginx() && start_nginx() }

# ---------------------------------------------------------------- clients

# a POST sent on a connection of its own and not read: the socket
sub raw_post {
    my ($port, $uri, $body, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "cannot connect to $port: $!\n";
    binmode $s;
    print {$s} "POST $uri HTTP/1.1\r\nHost: localhost\r\n"
               . join('', map { "$_\r\n" } @headers)
               . "Content-Length: " . length($body) . "\r\n"
               . "Connection: close\r\n\r\n$body";
    return $s;
}

# all a socket gets until the peer closes it, or undef after $timeout
sub read_answer {
    my ($s, $timeout) = @_;
    my $data = '';
    my $deadline = time + ($timeout // 10);
    my $sel = '';
    vec($sel, fileno($s), 1) = 1;
    while (time < $deadline) {
        my $r = $sel;
        next unless select($r, undef, undef, 0.1);
        my $n = sysread($s, my $buf, 65536);
        return $data if !$n;
        $data .= $buf;
    }
    return undef;
}

# the next connection to the stuck listener, taken and held (the peer
# waits for an answer that never comes until stuck_drain()); undef when
# none came in $timeout seconds
sub stuck_accept {
    my ($timeout) = @_;
    my $sel = '';
    vec($sel, fileno($STUCK), 1) = 1;
    return undef unless select(my $r = $sel, undef, undef, $timeout);
    my $c = $STUCK->accept or return undef;
    push @HELD, $c;
    return $c;
}

# drops the held connections and those waiting in the backlog
sub stuck_drain {
    close $_ for @HELD;
    @HELD = ();
    $STUCK->blocking(0);
    while (my $c = $STUCK->accept) { close $c }
    $STUCK->blocking(1);
}

# ---------------------------------------------------------------- faults

# Makes a directory refuse new files, even to root: "chattr +i" where the
# file system has it, else the directory is moved away and a file put in
# its place.  Returns how (immutable, replaced) and a sub that undoes it.
sub make_unwritable {
    my ($dir) = @_;
    my ($rc) = capture('chattr', '+i', $dir);
    if ($rc == 0 && !open(my $probe, '>', "$dir/.probe")) {
        my $undo = sub { capture('chattr', '-i', $dir) };
        push @UNDO, $undo;
        return ('immutable', $undo);
    }
    capture('chattr', '-i', $dir) if $rc == 0;
    unlink "$dir/.probe";
    rename $dir, "$dir.away" or die "cannot move $dir: $!\n";
    spew($dir, "not a directory\n");
    my $undo = sub { unlink $dir; rename "$dir.away", $dir };
    push @UNDO, $undo;
    return ('replaced', $undo);
}

# strace attached to all threads of $pid, holding (or failing) their
# fsync() calls: inject => "delay_enter=3000000" or "error=EIO:when=2";
# returns strace's pid once it is attached, or undef (no strace, or it
# cannot attach)
sub hold_fsync {
    my ($pid, $inject) = @_;
    die "no process to hold\n" unless $pid;
    my $log = Test::Nginx::Util::server_root() . "/logs/strace.$pid.log";
    my $st = fork() // die "fork: $!\n";
    if ($st == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $log;
        { no warnings 'exec';
          exec 'strace', '-f', '-qq', '-o', '/dev/null', '-p', $pid,
               '-e', 'trace=fsync', '-e', "inject=fsync:$inject"; }
        POSIX::_exit(127);
    }
    push @STRACES, $st;

    # strace is attached when the thread's state says it is traced
    my $ok = wait_for(10, sub {
        return 0 if waitpid($st, WNOHANG) == $st;
        my $tasks = "/proc/$pid/task";
        opendir my $d, $tasks or return 0;
        my @t = grep { /^\d+$/ } readdir $d;
        for my $t (@t) {
            my $status = slurp("$tasks/$t/status") // return 0;
            return 0 unless $status =~ /^TracerPid:\s+$st$/m;
        }
        return scalar @t;
    });
    return $ok ? $st : undef;
}

# strace detaches on TERM; once its tracee was killed while held, it may
# hang instead ("delayed wait data set already"): then KILL, which detaches
# too
sub release_held {
    my ($st) = @_;
    return unless $st;
    kill 'TERM', $st;
    if (!wait_for(3, sub { waitpid($st, WNOHANG) != 0 })) {
        kill 'KILL', $st;
        waitpid($st, 0);
    }
    @STRACES = grep { $_ != $st } @STRACES;
}

Test::Nginx::Util::add_cleanup_handler(sub {
    $_->() for reverse @UNDO;
    @UNDO = ();
    release_held($_) for @STRACES;
    stuck_drain();
});

Test::Nginx::Socket::add_response_body_check(\&after_response);

1;
