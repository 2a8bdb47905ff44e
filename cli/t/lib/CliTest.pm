package CliTest;

# Helpers for the smile-webhook tests (cli/t/*.t): running the command (on
# a terminal too) and checking that no registered secret ever reaches its
# output, Smile's example events, spool records in the module's format,
# and a real nginx with the module on loopback ports.
#
# Environment: SMILE_WEBHOOK (the command), SMILE_MODULE (the module .so),
# NGINX (default /usr/sbin/nginx), SMILE_CLI_TEST_PORT (first port to try;
# default: ports the kernel picks), CLI_TEST_KEEP=1 (keep temp dirs).

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha512_hex);
use Exporter qw(import);
use File::Basename qw(dirname basename);
use File::Temp qw(tempdir);
use IO::Pty;
use IO::Socket::INET;
use IPC::Run ();
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw($ROOT $BIN $SECRET cli cli_pty secret_file events
                 event_body hmac tmpdir write_file read_file spool_record
                 free_port start_nginx stop_nginx nginx_log no_secret_in
                 forbid);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $BIN = $ENV{SMILE_WEBHOOK} // "$ROOT/build/cli/smile-webhook";
our $MODULE = $ENV{SMILE_MODULE}
              // "$ROOT/build/ngx_http_smile_webhook_module.so";
our $NGINX = $ENV{NGINX} // '/usr/sbin/nginx';

# the example secret of Smile's documentation
our $SECRET = 'a little secret';

die "no smile-webhook at $BIN: run make first\n" unless -x $BIN;

# the tests talk to 127.0.0.1 only: no proxy may take the requests
delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy
               ALL_PROXY no_proxy NO_PROXY)};
delete $ENV{SMILE_WEBHOOK_SECRET};

# strings no output of the command may contain; cli({ allow => [...] })
# lifts the ban for the strings a call asks for (never for the secret)
my @forbidden = ($SECRET);
our %allowed;

sub forbid { push @forbidden, @_ }

sub no_secret_in {
    my ($what, @texts) = @_;
    my $text = join "\n", map { $_ // '' } @texts;
    for my $s (@forbidden) {
        next if $allowed{$s} && $s ne $SECRET;
        if (index($text, $s) >= 0) {
            fail("$what: output contains a secret or a forbidden string");
            diag($text);
            return 0;
        }
    }
    return 1;
}

# cli({ env => {...}, stdin => '...', setsid => 1, allow => [...],
#       nobody => 1 }, ARGS...)
#   -> (exit code, stdout, stderr); fails the test if a secret leaked;
#   nobody: run as the user nobody when the tests run as root
sub cli {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    local %allowed = map { $_ => 1 } @{ $opt->{allow} // [] };
    my @cmd = ($BIN, @_);
    unshift @cmd, 'setpriv', '--reuid=nobody', '--regid=nogroup',
                  '--clear-groups' if $opt->{nobody} && $> == 0;
    unshift @cmd, 'setsid', '-w' if $opt->{setsid};
    my ($in, $out, $err) = ($opt->{stdin} // '', '', '');
    local %ENV = %ENV;
    # a command that exits before reading its stdin must not kill the test
    local $SIG{PIPE} = 'IGNORE';
    @ENV{keys %{ $opt->{env} }} = values %{ $opt->{env} } if $opt->{env};
    IPC::Run::run(\@cmd, \$in, \$out, \$err,
                  IPC::Run::timeout($opt->{timeout} // 60));
    my $rc = $? >> 8;
    $rc = 128 + ($? & 127) if $? & 127;
    no_secret_in("smile-webhook @_", $out, $err);
    return ($rc, $out, $err);
}

# cli_pty({ stdin => '...', expect => qr/prompt\z/, type => "answer" },
#   ARGS...) -> (exit code, stdout, stderr, terminal, typed): the command
# with a pseudo-terminal as its controlling terminal (its /dev/tty), and
# "type" typed there once the terminal shows "expect"
sub cli_pty {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my $dir = tmpdir();
    my $inf = write_file("$dir/stdin", $opt->{stdin} // '');
    my $pty = IO::Pty->new;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $pty->make_slave_controlling_terminal;
        close $pty;
        open STDIN, '<', $inf or die;
        open STDOUT, '>', "$dir/stdout" or die;
        open STDERR, '>', "$dir/stderr" or die;
        exec $BIN, @_;
        die "exec: $!\n";
    }
    # the parent keeps the slave open: reading the master before the child
    # opened it would fail with EIO
    my $screen = '';
    my $deadline = time + 20;
    my $typed = 0;
    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno($pty), 1) = 1;
        if (select(my $rout = $rin, undef, undef, 0.1)) {
            my $n = sysread($pty, my $buf, 4096);
            $screen .= $buf if $n;
        }
        if (!$typed && $screen =~ $opt->{expect}) {
            syswrite($pty, "$opt->{type}\n");
            $typed = 1;
        }
        last if waitpid($pid, WNOHANG) == $pid;
    }
    my $rc = $? >> 8;
    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $rc = -1;
    }
    while (select(my $rout = do { my $r = ''; vec($r, fileno($pty), 1) = 1;
                                  $r }, undef, undef, 0.1)) {
        sysread($pty, my $buf, 4096) or last;
        $screen .= $buf;
    }
    $pty->close_slave;
    my ($out, $err) = (read_file("$dir/stdout"), read_file("$dir/stderr"));
    local %allowed = map { $_ => 1 } @{ $opt->{allow} // [] };
    no_secret_in("smile-webhook @_ (terminal)", $out, $err, $screen);
    return ($rc, $out, $err // '', $screen, $typed);
}

my @tmpdirs;

sub tmpdir {
    my $d = tempdir('smile-cli-XXXXXX', TMPDIR => 1,
                    CLEANUP => !$ENV{CLI_TEST_KEEP});
    push @tmpdirs, $d;
    return $d;
}

sub write_file {
    my ($path, $data, $mode) = @_;
    open my $fh, '>:raw', $path or die "$path: $!\n";
    print $fh $data;
    close $fh or die "$path: $!\n";
    chmod $mode, $path if defined $mode;
    return $path;
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    return scalar <$fh>;
}

sub secret_file {
    my ($content) = @_;
    return write_file(tmpdir() . '/secret', $content // "$SECRET\n", 0600);
}

# Smile's example events: [ file name, type, body ], in file order
sub events {
    my @e;
    for my $f (sort glob "$ROOT/t/events/*.json") {
        my $body = read_file($f);
        my ($type) = $body =~ /"type":\s*"([A-Z0-9_]+)"/ or die "$f\n";
        push @e, [ basename($f), $type, $body ];
    }
    die "no events in $ROOT/t/events\n" unless @e == 25;
    return @e;
}

sub event_body {
    my ($name) = @_;
    return read_file("$ROOT/t/events/$name") // die "$name\n";
}

# Smile's signature, computed by Perl's Digest::SHA, not by our code
sub hmac {
    my ($body, $secret) = @_;
    return hmac_sha512_hex($body, $secret // $SECRET);
}

# spool_record($dir, id => ID, ...) -> the path of a record written as
# ngx_http_smile_webhook_spool.c writes one: "SMILE-SPOOL 1", its lines, a
# blank line, the body; named ev-RECEIVED-ATTEMPTS-ID (in dead/ with
# dead => 1).  Other keys: received, attempts, type, body, headers
# ([ [name, value]... ], default the signature and Content-Type), host,
# uri, socket, created_at, user_id, line_received (the "received" line, if
# not the name's), mtime, raw (the file's content instead)
sub spool_record {
    my ($dir, %r) = @_;
    my $id = $r{id} // die "spool_record: no id\n";
    my $type = $r{type} // 'USER_CREATED';
    my $received = $r{received} // int(time);
    my $attempts = $r{attempts} // 1;
    my $body = $r{body} // qq({"id":"$id","type":"$type"});
    my $headers = $r{headers} // [ [ 'Smile-Signature', hmac($body) ],
                                   [ 'Content-Type', 'application/json' ] ];
    my $record = "SMILE-SPOOL 1\n"
        . 'received: ' . ($r{line_received} // $received) . "\n"
        . 'socket: ' . ($r{socket} // "$dir/replay.sock") . "\n"
        . 'host: ' . ($r{host} // 'hooks.example.com') . "\n"
        . 'uri: ' . ($r{uri} // '/smile/webhook') . "\n"
        . "id: $id\n"
        . "type: $type\n"
        . 'created-at: ' . ($r{created_at} // '2021-04-14T09:30:24Z') . "\n"
        . 'user-id: ' . ($r{user_id} // 'tenantId-1') . "\n"
        . join('', map { "header: $_->[0]: $_->[1]\n" } @$headers)
        . 'length: ' . length($body) . "\n"
        . "\n"
        . $body;
    my $where = $dir;
    if ($r{dead}) {
        $where = "$dir/dead";
        mkdir $where;
    }
    my $path = write_file("$where/ev-$received-$attempts-$id",
                          $r{raw} // $record);
    utime $r{mtime}, $r{mtime}, $path if defined $r{mtime};
    return $path;
}

# a loopback port nothing listens on
my $next_port = $ENV{SMILE_CLI_TEST_PORT};

sub free_port {
    for (1 .. 200) {
        my $try = defined $next_port ? $next_port++ : 0;
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $try, Listen => 1,
                                      ReuseAddr => 1) or next;
        my $port = $s->sockport;
        close $s;
        return $port;
    }
    die "no free port\n";
}

# start_nginx($http_block) -> { pid, prefix, ports... }: an nginx with the
# module, in a temporary prefix, the http{} block given (with @PREFIX@)
my @running;

sub start_nginx {
    my ($http) = @_;
    my $prefix = tmpdir();
    # run as root, the workers are "nobody": they must reach the temp dirs
    chmod 0711, $prefix;
    mkdir "$prefix/logs";
    $http =~ s/\@PREFIX\@/$prefix/g;
    write_file("$prefix/nginx.conf", <<"_EOC_");
daemon off;
master_process on;
worker_processes 1;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log info;
load_module $MODULE;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path $prefix/body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
$http
}
_EOC_
    my @ports = $http =~ /listen\s+127\.0\.0\.1:(\d+)/g;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$prefix/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        # nginx takes $NGINX for inherited sockets (make test sets it)
        delete $ENV{NGINX};
        exec $NGINX, '-p', $prefix, '-c', "$prefix/nginx.conf",
             '-e', "$prefix/logs/error.log";
        die "exec $NGINX: $!\n";
    }
    my $n = { pid => $pid, prefix => $prefix };
    push @running, $n;
    my $deadline = time + 15;
    for my $port (@ports) {
        until (IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port)) {
            if (waitpid($pid, WNOHANG) == $pid || time > $deadline) {
                diag(read_file("$prefix/logs/error.log") // '');
                diag(read_file("$prefix/logs/stderr.log") // '');
                die "nginx did not start\n";
            }
            sleep 0.05;
        }
    }
    return $n;
}

sub nginx_log {
    my ($n, $name) = @_;
    return read_file("$n->{prefix}/logs/$name") // '';
}

sub stop_nginx {
    my ($n) = @_;
    return unless $n->{pid};
    kill 'QUIT', $n->{pid};
    my $deadline = time + 10;
    while (waitpid($n->{pid}, WNOHANG) == 0) {
        if (time > $deadline) {
            kill 'KILL', $n->{pid};
            waitpid($n->{pid}, 0);
            last;
        }
        sleep 0.05;
    }
    $n->{pid} = undef;
}

END {
    my $rc = $?;
    stop_nginx($_) for @running;
    $? = $rc;
}

1;
