package CliTest;

# Helpers for the smile-webhook tests (cli/t/*.t): running the command and
# checking that no registered secret ever reaches its output, Smile's
# example events, and a real nginx with the module on loopback ports.
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
use IO::Socket::INET;
use IPC::Run ();
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw($ROOT $BIN $SECRET cli secret_file events event_body
                 hmac tmpdir write_file read_file free_port start_nginx
                 stop_nginx nginx_log no_secret_in forbid);

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

# strings no output of the command may contain
my @forbidden = ($SECRET);

sub forbid { push @forbidden, @_ }

sub no_secret_in {
    my ($what, @texts) = @_;
    my $text = join "\n", map { $_ // '' } @texts;
    for my $s (@forbidden) {
        if (index($text, $s) >= 0) {
            fail("$what: output contains a secret or a forbidden string");
            diag($text);
            return 0;
        }
    }
    return 1;
}

# cli({ env => {...}, stdin => '...', setsid => 1 }, ARGS...)
#   -> (exit code, stdout, stderr); fails the test if a secret leaked
sub cli {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my @cmd = ($BIN, @_);
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
