package Test::Nginx::Util;

# Compact, independent re-implementation of the server-management half of
# the CPAN/GitHub "Test::Nginx" framework (openresty/test-nginx).  It is only
# meant to be used when the real framework is not installed.  It mirrors the
# current release, Test::Nginx 0.32 (tag v0.32; the development tip differs
# only in its version number and random seed): semantics were checked
# against its lib/Test/Nginx/Util.pm; see ../../../README.md.
#
# Anything that the real framework supports but this one does not makes the
# test run fail loudly instead of being ignored.

use strict;
use warnings;

our $VERSION = '0.32_compat1';

# the release this runner mirrors
our $MIRRORS = '0.32';

use base 'Exporter';

use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use File::Spec ();
use File::Path qw(make_path remove_tree);
use List::Util qw(shuffle);
use Time::HiRes qw(sleep time);
use Scalar::Util qw(looks_like_number);
use IO::Socket::INET ();
use Test::More ();
use Test::LongString ();
use Carp qw(croak);
use Config ();

our @EXPORT = qw(
    expand_env_in_text
    use_http2
    env_to_nginx
    is_str
    check_accum_error_log
    is_running
    $NoLongString
    no_long_string
    $ServerAddr
    server_addr
    $ServerName
    server_name
    parse_time
    verbose
    sleep_time
    bail_out
    add_cleanup_handler
    add_test_cleanup_handler
    access_log_data
    error_log_data
    setup_server_root
    write_config_file
    get_canon_version
    get_nginx_version
    trim
    show_all_chars
    parse_headers
    run_tests
    get_pid_from_pidfile
    $ServerPortForClient
    $ServerPort
    $NginxVersion
    $PcreVersion
    $PidFile
    $ServRoot
    $ConfFile
    $RunTestHelper
    $CheckErrorLog
    $CheckShutdownErrorLog
    $RepeatEach
    add_block_preprocessor
    timeout
    worker_connections
    workers
    master_on
    master_off
    config_preamble
    repeat_each
    master_process_enabled
    log_level
    no_shuffle
    no_root_location
    html_dir
    server_root
    server_port
    server_port_for_client
    no_nginx_manager
    use_hup
    run_test
);

#---------------------------------------------------------------------------
# Global settings (same names, environment variables and defaults as the
# real framework).
#---------------------------------------------------------------------------

our $NoLongString;
our $FirstTime = 1;
our $Verbose = $ENV{TEST_NGINX_VERBOSE};
our $UseHttp2 = $ENV{TEST_NGINX_USE_HTTP2};
our $ReusePort = $ENV{TEST_NGINX_REUSE_PORT};
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $EventType = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $WorkerUser = $ENV{TEST_NGINX_WORKER_USER};
our $BuildSlaveName = $ENV{TEST_NGINX_BUILDSLAVE};
our $Randomize = $ENV{TEST_NGINX_RANDOMIZE};

our $RepeatEach = 1;
our $NginxBinary = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers = 1;
our $WorkerConnections = 64;
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled = 'on';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $NoRootLocation = 0;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                          ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $ConfigPreamble = '';

# valgrind mode (our own flavour, see README)
our $ValgrindTimeoutFactor = $ENV{TEST_NGINX_VALGRIND_TIMEOUT_FACTOR} || 4;
our $ValgrindMatch = $ENV{TEST_NGINX_VALGRIND_MATCH} || 'smile_webhook';
our $ValgrindAll = $ENV{TEST_NGINX_VALGRIND_ALL};

our (@CleanupHandlers, @TestCleanupHandlers, @BlockPreprocessors, @EnvToNginx);
our ($ChildPid, $InSubprocess, $PrevBlock, $PrevConfig, $ErrLogFilePos);
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);
our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion, $PcreVersion);
our $RandPorts;     # the current block's $TEST_NGINX_RAND_PORT_N values

sub gen_rand_port (;$$);
sub bail_out (@);

srand $$;

if (defined $WorkerUser && $WorkerUser !~ /^\w[-\w]+(?:\s+\w[-\w]+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

if ($Randomize) {
    $ServerPort = gen_rand_port(1000);
    if (!defined $ServerPort) {
        bail_out("Cannot find an available listening port number after 1000 attempts.\n");
    }
    $ServerPortForClient = $ServerPort;
}

if ($UseValgrind) {
    # like the real framework: nginx stays in the foreground so that we
    # own the (valgrind) process; master_process keeps its configured value
    $DaemonEnabled = 'off';
}

our $ServRoot;
if ($Randomize) {
    $ServRoot = File::Spec->rel2abs("t/servroot_" . $ServerPort);
} else {
    $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
}
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $CacheDir   = File::Spec->catfile($ServRoot, 'cache');

# Testing modes of the real framework that are not implemented here.  They
# change what a test run means, so refuse to run rather than pretend.
sub check_unsupported_env () {
    my @bad;
    for my $v (qw(TEST_NGINX_USE_HUP TEST_NGINX_USE_STAP TEST_NGINX_CHECK_LEAK
                  TEST_NGINX_BENCHMARK TEST_NGINX_USE_HTTP3 TEST_NGINX_USE_RR
                  TEST_NGINX_NO_NGINX_MANAGER
                  TEST_NGINX_IGNORE_MISSING_DIRECTIVES))
    {
        push @bad, $v if $ENV{$v};
    }
    if (@bad) {
        bail_out("Test::Nginx compat runner: unsupported testing mode(s) "
                 . "requested via @bad; install the real Test::Nginx");
    }
}

#---------------------------------------------------------------------------
# Small exported helpers
#---------------------------------------------------------------------------

sub is_running ($) {
    my $pid = shift;
    return 0 unless defined $pid && $pid =~ /^\d+$/ && $pid > 0;
    return 0 unless kill 0, $pid;
    # PID 1 of some containers never reaps orphans: a zombie is not running
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in>;
        close $in;
        if (defined $stat && $stat =~ /^\d+ \(.*\) (\S)/s && $1 eq 'Z') {
            waitpid($pid, WNOHANG);
            return 0;
        }
    }
    return 1;
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries //= 1000;
    $used //= {};
    for (1 .. $tries) {
        # 1985 to 1987 are left to stream_server_config blocks
        my $port = int(rand 63547) + 1988;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port,
                                         Proto => 'tcp', Listen => 5,
                                         Timeout => 0.1, Reuse => 1);
        if ($sock) {
            $sock->close;
            return $port;
        }
    }
    return undef;
}

sub no_long_string () { $NoLongString = 1 }

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return Test::LongString::is_string($got, $expected, $desc);
}

sub server_addr (@) { if (@_) { $ServerAddr = shift } else { return $ServerAddr } }
sub server_name (@) { if (@_) { $ServerName = shift } else { return $ServerName } }
sub timeout (@) { if (@_) { $Timeout = shift } else { return $Timeout } }
sub no_shuffle () { $NoShuffle = 1 }
sub verbose () { return $Verbose }
sub sleep_time () { return $TestNginxSleep }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub config_preamble ($) { $ConfigPreamble = shift }
sub html_dir () { return $HtmlDir }
sub server_root () { return $ServRoot }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub no_nginx_manager () {
    bail_out("Test::Nginx compat runner: no_nginx_manager() is not supported");
}

sub use_hup () {
    bail_out("Test::Nginx compat runner: use_hup() (HUP reload mode) is not supported");
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v\n";
        }
        push @EnvToNginx, $v;
    }
}

sub server_port (@) { if (@_) { $ServerPort = shift } else { return $ServerPort } }

sub server_port_for_client (@) {
    if (@_) { $ServerPortForClient = shift } else { return $ServerPortForClient }
}

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub worker_connections (@) {
    if (@_) { $WorkerConnections = shift } else { return $WorkerConnections }
}

sub workers (@) { if (@_) { $Workers = shift } else { return $Workers } }

sub log_level (@) { if (@_) { $LogLevel = shift } else { return $LogLevel } }

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    } else {
        return $MasterProcessEnabled;
    }
}

# "50ms" -> 0.05, "2s" -> 2, "1.5" -> 1.5
sub parse_time ($) {
    my $t = shift;
    return $t unless defined $t;
    if ($t =~ s/([^_a-zA-Z])ms$/$1/) {
        return $t / 1000;
    }
    $t =~ s/([^_a-zA-Z])s$/$1/;
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

# "Name: value" lines; "!Name" (or a line without a colon) means "absent"
sub parse_headers ($) {
    my $text = shift;
    my %h;
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
            next;
        }
        my ($k, $v) = split /\s*:\s*/, $line, 2;
        $h{$k} = $v;
    }
    return \%h;
}

sub get_canon_version (@) {
    return sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_canon_version_for_OpenSSL (@) {
    if (defined $_[3]) {
        return sprintf "%d.%03d%03d%03d", $_[0], $_[1], $_[2],
                       ord($_[3]) - ord('a');
    }
    return get_canon_version(@_);
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx in PATH: "
                 . ($out // ''));
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version_for_OpenSSL($1, $2, $3, $4);
    }
    if ($out =~ m{(?:nginx|openresty+?)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# 2 for PCRE2 (nginx 1.25+ unless --without-pcre2), 1 for PCRE, 0 for none:
# what 0.32 guesses from "nginx -V"
sub get_pcre_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the pcre version of the Nginx in PATH: "
                 . ($out // ''));
    }
    my $ver = $out =~ /nginx version: .*\/(\d)\.(\d+)(?:\.\d+)+/ ? $1 * 100 + $2 : 0;
    return 2 if $ver >= 125 && $out !~ /--without-pcre2/;
    return $out =~ /pcre/ ? 1 : 0;
}

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    $pid = '' unless defined $pid;
    chomp $pid;
    return $pid;
}

sub can_run ($) {
    my $cmd = shift;
    if ($cmd =~ m{[/\\]}) {
        return (-f $cmd && -x $cmd) ? $cmd : undef;
    }
    for my $dir ((split /\Q$Config::Config{path_sep}\E/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }
    return undef;
}

sub use_http2 ($) {
    my $block = shift;
    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;

    return undef if defined $block->no_http2;

    if (defined $block->http2) {
        bail_out("cannot use --- http2 with --- raw_request") if $block->raw_request;
        bail_out("cannot use --- http2 with --- pipelined_requests")
            if $block->pipelined_requests;
        $block->set_value("test_nginx_enabled_http2", 1);
        require IPC::Run;
        return 1;
    }

    if ($UseHttp2) {
        my $why;
        if ($block->raw_request) {
            $why = "using raw_request HTTP/2, will not use HTTP/2";
        } elsif ($block->pipelined_requests) {
            $why = "using pipelined_requests, will not use HTTP/2";
        } elsif (!defined $block->request) {
            $why = '';
        } elsif (!ref $block->request && $block->request =~ m{HTTP/1\.0}s) {
            $why = "explicitly rquires HTTP 1.0, so will not use HTTP/2";
        } else {
            # what cannot work over HTTP/2 (same wording as 0.32)
            my $pat = qr{(proxy_pass .*:\$(server_port|TEST_NGINX_SERVER_PORT)
                          | ngx.req.raw_header
                          | lua_check_client_abort
                          | ngx.req.socket
                          | ngx.req.read_body)}x;
            if (defined $block->config && $block->config =~ $pat) {
                $why = "$1 does not support in HTTP/2";
            } elsif (defined $block->user_files && $block->user_files =~ $pat) {
                $why = "$1 does not support HTTP/2";
            } elsif (defined $block->http_config && $block->http_config =~ $pat) {
                $why = "can not listen on HTTP and HTTP/2 at the same time, "
                       . "so will no use HTTP2";
            }
        }
        if (defined $why) {
            warn "WARNING: ", $block->name, " - $why\n" if $why ne '';
            $block->set_value("test_nginx_enabled_http2", 0);
            return undef;
        }
        $block->set_value("test_nginx_enabled_http2", 1);
        require IPC::Run;
        return 1;
    }

    $block->set_value("test_nginx_enabled_http2", 0);
    return undef;
}

#---------------------------------------------------------------------------
# Process management
#---------------------------------------------------------------------------

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;

    if ($wait) {
        kill($ENV{TEST_NGINX_FAST_SHUTDOWN} ? SIGTERM : SIGQUIT, $pid)
            if defined $pid;
        my $left = timeout();
        while ($left > 0 && is_running($pid)) {
            waitpid($pid, WNOHANG);
            sleep 0.05;
            $left -= 0.05;
        }
        if (is_running($pid)) {
            warn "$name - timeout when waiting for the process $pid to exit";
            force_kill($pid);
        }
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        return unless is_running($pid);
        if (kill(SIGTERM, $pid) == 0) {
            warn "WARNING: failed to send term signal to the child process with PID $pid.\n";
        }
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        sleep $step;
    }

    warn "$name - WARNING: killing the child process $pid with force...";
    force_kill($pid);
}

sub force_kill ($) {
    my $pid = shift;
    if (getpgrp($pid) == $pid) {
        kill(SIGKILL, -$pid);
        sleep 0.05;
    } else {
        kill(SIGKILL, $pid);
    }
    # reap it if it is our own child; never block for a foreign process
    for (1 .. 40) {
        last if waitpid($pid, WNOHANG) != 0 || !is_running($pid);
        sleep 0.05;
    }
}

# after each block, as in 0.32
sub cleanup_test ($) {
    my $block = shift;
    for my $hdl (@TestCleanupHandlers) {
        $hdl->($block);
    }
}

sub cleanup () {
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }
    if (defined $ChildPid) {
        kill_process($ChildPid, 1, "cleanup");
        undef $ChildPid;
    }
}

# Make sure nginx does not survive an interrupted test run.
for my $sig (qw(INT TERM HUP)) {
    if (!defined $SIG{$sig} || $SIG{$sig} eq '' || $SIG{$sig} eq 'DEFAULT') {
        $SIG{$sig} = sub {
            return if $InSubprocess;
            warn "Test::Nginx compat runner: caught SIG$sig, stopping nginx\n";
            exit 128 + ($sig eq 'INT' ? 2 : $sig eq 'TERM' ? 15 : 1);
        };
    }
}

END {
    return if $InSubprocess;

    cleanup();

    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;
        if (defined $PidFile && -f $PidFile) {
            my $pid = get_pid_from_pidfile('END');
            if ($pid && is_running($pid)) {
                kill_process($pid, 1, "END");
            } else {
                unlink $PidFile;
            }
        }
    }

    check_prev_block_shutdown_error_log();

    if ($Randomize && defined $ServRoot && -d $ServRoot
        && $ServRoot =~ m{/t/servroot_\d+})
    {
        remove_tree($ServRoot);
    }
}

#---------------------------------------------------------------------------
# Log files
#---------------------------------------------------------------------------

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or do {
        die "open $AccLogFile failed: $!" if $AccLogFile ne 'off';
        return undef;
    };
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# Lines appended to error.log since the last call (or all of them in the
# "accumulated" mode).  Returns undef when the file does not exist.
sub error_log_data () {
    my $nap = $TestNginxSleep * 3;
    $nap = 0.3 if $UseValgrind && $nap < 0.3;
    sleep $nap;

    open my $in, '<', $ErrLogFile or return undef;
    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell($in);
    }
    close $in;
    return \@lines;
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block;
    return unless defined $block->shutdown_error_log
                  || defined $block->no_shutdown_error_log;
    undef $PrevBlock;    # check it exactly once
    my $dry_run = $ENV{TEST_NGINX_NO_CLEAN} ? 1 : undef;
    $CheckShutdownErrorLog->($block, $dry_run);
}

#---------------------------------------------------------------------------
# Server root and nginx.conf
#---------------------------------------------------------------------------

sub setup_server_root ($) {
    my $first_time = shift;

    if (-d $ServRoot) {
        # only remove what we create ourselves, so that a mis-set
        # TEST_NGINX_SERVROOT cannot wipe out real data
        remove_tree($ConfDir, glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        remove_tree($CacheDir, $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to do mkdir $dir\n");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if $fname;
        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            if (!-d $dir) {
                make_path($dir) or bail_out("$name - Cannot create directory $dir");
            }
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' $HtmlDir/$fname";
            system($cmd) == 0 or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}

# Replace $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO}; an undefined variable
# aborts the whole run (as in the real framework).
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    my $lookup = sub {
        my $var = shift;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $port = gen_rand_port(1000, \%used);
                if (!defined $port) {
                    bail_out("$name - Cannot find an available listening port number for $var.\n");
                }
                $rand_ports->{$var} = $port;
                $used{$port} = 1;
            }
            return $rand_ports->{$var};
        }
        if (!defined $ENV{$var}) {
            bail_out("$name - No environment $var defined.\n");
        }
        return $ENV{$var};
    };

    $text =~ s/\$(TEST_NGINX_[_A-Z0-9]+)/$lookup->($1)/eg;
    return $text;
}

# NB: the layout (including blank lines) is the one Test::Nginx 0.32 writes,
# so that "in .../nginx.conf:NN" line numbers agree with it.
sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;
    my $http_config = expand_env_in_text($block->http_config, $name, $rand_ports);
    my $main_config = $block->main_config;
    my $post_main_config = $block->post_main_config;
    my $err_log_file = $block->error_log_file;
    my $server_name = $block->server_name;

    $config = '' unless defined $config;
    $http_config = '' unless defined $http_config;

    if ($http_config =~ /\bpostpone_output\b/) {
        undef $PostponeOutput;
    }
    if (defined $PostponeOutput && $PostponeOutput !~ /^\d+$/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput\n");
    }
    # (the real framework only emits postpone_output in its HUP mode)

    # the load_module lines go first, on the main_config line
    $main_config = '' unless defined $main_config;
    if ($LoadModules) {
        my @mods = map { "load_module $_;" } grep { $_ } split /\s+/, $LoadModules;
        $main_config = join ' ', @mods, $main_config if @mods;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    $post_main_config = '' unless defined $post_main_config;
    $post_main_config = expand_env_in_text($post_main_config, $name, $rand_ports);

    $err_log_file = $ErrLogFile unless $err_log_file;
    $err_log_file = expand_env_in_text($err_log_file, $name, $rand_ports);
    $server_name = $ServerName unless defined $server_name;

    # HTTP/2 as 0.32 turns it on: the "http2" directive (on the listen line)
    # for any nginx newer than 1.19.9, although nginx has that directive
    # only from 1.25.1 on; "listen ... http2" for older ones
    my ($listen_opts, $http2_directive) = ('', '');
    if (use_http2($block)) {
        if ($NginxVersion >= 1.019009) {
            $http2_directive = 'http2 on;';
        } else {
            $listen_opts .= ' http2';
        }
    }
    $listen_opts .= ' reuseport' if $ReusePort;

    # temp paths in the server root, for the modules this nginx has
    my $nginx_V = `$NginxBinary -V 2>&1`;
    $nginx_V = '' unless defined $nginx_V;
    my @temp = map { "${_}_temp_path $ServRoot/${_}_temp;" }
                   qw(client_body proxy fastcgi scgi uwsgi);
    $temp[0] = '' if $http_config =~ /\bclient_body_temp_path\b/;
    $temp[1] = '' if $http_config =~ /\bproxy_temp_path\b/;
    $temp[2] = '' if $nginx_V =~ /--without-http_fastcgi_module/;
    $temp[3] = '' if $nginx_V =~ /--without-http_scgi_module/;
    $temp[4] = '' if $nginx_V =~ /--without-http_uwsgi_module/;

    # NB: the real framework quotes the values in place (the loop variable
    # aliases the global list), so a value containing blanks gets one more
    # pair of quotes for every config file written.  Kept for fidelity.
    my @env_lines;
    for my $v (@EnvToNginx) {
        $v = "'$v'" if $v =~ /\s/;
        push @env_lines, "env $v;\n";
    }

    my $conf = '';
    $conf .= "worker_processes  $Workers;\n"
           . "daemon $DaemonEnabled;\n"
           . "master_process $MasterProcessEnabled;\n"
           . "error_log $err_log_file $LogLevel;\n"
           . "pid       $PidFile;\n";
    $conf .= "env $_;\n" for qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN
                                MOCKEAGAIN_WRITE_TIMEOUT_PATTERN LD_PRELOAD
                                LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
                                DYLD_FORCE_FLAT_NAMESPACE);
    $conf .= join '', @env_lines;
    $conf .= "#env LUA_PATH;\n#env LUA_CPATH;\n\n"
           . "$main_config\n\n"
           . "http {\n"
           . "    access_log $AccLogFile; " . join(' ', @temp) . "\n"
           . "    #access_log off;\n\n"
           . "    default_type text/plain;\n"
           . "    keepalive_timeout  68000ms;\n\n"
           . "$http_config\n"
           . "    server {\n"
           . "        listen          $ServerPort$listen_opts;$http2_directive\n"
           . "        #placeholder\n"
           . "        server_name     '$server_name';\n"
           . "        \n"
           . "        client_max_body_size 30M;\n"
           . "        #client_body_buffer_size 4k;\n\n"
           . "        # Begin preamble config...\n"
           . "$ConfigPreamble\n"
           . "        # End preamble config...\n\n"
           . "        # Begin test case config...\n"
           . "$config\n"
           . "        # End test case config.\n\n";
    if (!$NoRootLocation) {
        $conf .= "        location / {\n"
               . "            root $HtmlDir;\n"
               . "            index index.html index.htm;\n"
               . "        }\n";
    }
    $conf .= "    }\n"
           . "}\n\n"
           . "$post_main_config\n\n"
           . "#timer_resolution 100ms;\n\n"
           . "events {\n"
           . "    accept_mutex off;\n\n"
           . "    worker_connections  $WorkerConnections;\n";
    $conf .= "    use $EventType;\n" if $EventType;
    $conf .= "}\n"
           . "env ASAN_OPTIONS;\n"
           . "env MOCKNOEAGAIN_VERBOSE;\n"
           . "env MOCKNOEAGAIN;\n";
    if (defined $WorkerUser) {
        $conf .= "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $conf .= "user root;\n";
    }

    open my $out, '>', $ConfFile or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out $conf;
    close $out;
}

#---------------------------------------------------------------------------
# Section sanity: never silently ignore something the real framework would
# act upon.
#---------------------------------------------------------------------------

our %SupportedSections = map { $_ => 1 } qw(
    ONLY SKIP LAST
    config http_config main_config post_main_config server_name
    error_log_file user_files log_level must_die init
    request request_eval raw_request raw_request_middle_delay more_headers
    pipelined_requests curl curl_protocol curl_options curl_error http2
    timeout abort shutdown server_addr_for_client ignore_response http09
    error_code error_code_like
    raw_response_headers_like raw_response_headers_unlike
    response_headers response_headers_like
    response_body response_body_eval response_body_like response_body_unlike
    response_body_filters charset wait
    error_log no_error_log grep_error_log grep_error_log_out
    access_log no_access_log shutdown_error_log no_shutdown_error_log
    skip_nginx skip_nginx2 skip_eval skip_openssl skip_slave todo todo_nginx
    no_check_leak reload_fails
    post_setup_server_root suppress_stderr write_resp_body_file
    response_body_json_sort no_http2 no_http3 no_mockeagain
);

# known to the real framework, not implemented here
our %UnsupportedSections = map { $_ => 1 } qw(
    stap stap_out stap_out_like stap_out_unlike
    tcp_listen tcp_reply tcp_query tcp_query_len tcp_shutdown
    tcp_shutdown_delay tcp_reply_delay tcp_no_close tcp_query_auto_timeout
    udp_listen udp_reply udp_query udp_reply_delay
    http3 quic_max_idle_timeout
);

our %BlockInternals = map { $_ => 1 } qw(
    name description seq_num is_filtered blocks_object original_values
    _section_map _section_order
    test_nginx_enabled_http2 test_nginx_enabled_http3
);

# returns a list of problems (empty when the block can be run faithfully)
sub block_problems ($) {
    my $block = shift;
    no warnings 'once';
    my %extra = map { $_ => 1 } @Test::Nginx::Socket::ExtraSections;
    my @problems;
    my %seen;
    my $order = $block->{_section_order} ? $block->{_section_order}[0] : [];
    my @names = (@{ $order || [] }, sort keys %$block);
    for my $sec (@names) {
        next if $seen{$sec}++;
        next if $BlockInternals{$sec} || $SupportedSections{$sec} || $extra{$sec};
        if ($UnsupportedSections{$sec}) {
            next unless defined $block->$sec;
            push @problems, "unsupported section --- $sec (the compat runner "
                            . "does not implement it; use the real Test::Nginx)";
        } else {
            push @problems, "unknown section --- $sec (not a Test::Nginx::Socket "
                            . "section; typo? custom sections consumed by a block "
                            . "preprocessor must be listed in "
                            . "\@Test::Nginx::Socket::ExtraSections)";
        }
    }
    return @problems;
}

#---------------------------------------------------------------------------
# valgrind support (our extension)
#---------------------------------------------------------------------------

sub valgrind_cmd () {
    my @opts = qw(--tool=memcheck --leak-check=full --show-leak-kinds=definite
                  --keep-debuginfo=yes
                  --errors-for-leak-kinds=definite --num-callers=40);
    push @opts, "--log-file=$LogDir/valgrind.%p.log";
    if (-f 'valgrind.suppress') {
        push @opts, '--suppressions=valgrind.suppress';
    }
    if ($UseValgrind !~ /^\d+$/) {
        push @opts, split ' ', $UseValgrind;
    }
    my $bin = can_run($NginxBinary) // $NginxBinary;
    if (open my $fh, '<', $bin) {
        my $magic = '';
        read $fh, $magic, 2;
        close $fh;
        # a wrapper script: follow the exec into the real nginx
        push @opts, '--trace-children=yes' if $magic eq '#!';
    }
    return ('valgrind', @opts, $bin, '-e', "$ServRoot/logs/error.log",
            '-p', "$ServRoot/", '-c', $ConfFile);
}

sub start_nginx_under_valgrind ($) {
    my $name = shift;
    my @cmd = valgrind_cmd();
    warn "$name\n" if $Verbose;
    my $pid = fork();
    if (!defined $pid) {
        bail_out("$name - fork() failed: $!");
    }
    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp(0, 0);
        open STDOUT, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    $ChildPid = $pid;

    # wait until nginx has written its pid file (sockets are listening by
    # then) or the process died; valgrind start-up is slow
    my $deadline = time + ($ENV{TEST_NGINX_VALGRIND_START_TIMEOUT} || 60);
    while (time < $deadline) {
        if (-s $PidFile) {
            my $p = get_pid_from_pidfile($name);
            last if $p eq $pid;
        }
        last if waitpid($pid, WNOHANG) != 0;
        sleep 0.05;
    }
}

sub stop_nginx_under_valgrind ($) {
    my $name = shift;
    my $pid = $ChildPid;
    return unless defined $pid;
    undef $ChildPid;
    kill(SIGQUIT, $pid);
    my $deadline = time + ($ENV{TEST_NGINX_VALGRIND_STOP_TIMEOUT} || 60);
    my $gone;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid || $r == -1) { $gone = 1; last }
        sleep 0.05;
    }
    if (!$gone) {
        warn "$name - nginx (valgrind) did not exit after SIGQUIT; killing it\n";
        kill(SIGKILL, -$pid);
        kill(SIGKILL, $pid);
        waitpid($pid, 0);
    }
    unlink $PidFile if -f $PidFile;
}

# split valgrind logs into error records (those carrying a stack trace)
sub valgrind_records ($) {
    my $file = shift;
    open my $in, '<', $file or return ();
    my (@records, @cur);
    my $flush = sub {
        if (@cur && grep { /^\s+(?:at|by) 0x[0-9A-Fa-f]+:/ } @cur) {
            push @records, join("\n", @cur) . "\n";
        }
        @cur = ();
    };
    while (my $line = <$in>) {
        chomp $line;
        next unless $line =~ s/^==\d+==\s?//;
        if ($line =~ /^\s*$/) {
            $flush->();
            next;
        }
        push @cur, $line;
    }
    $flush->();
    close $in;
    return grep { !/^(?:HEAP|LEAK|ERROR) SUMMARY/ } @records;
}

sub check_valgrind_logs ($) {
    my $name = shift;
    for my $file (sort glob("$LogDir/valgrind.*.log")) {
        for my $rec (valgrind_records($file)) {
            my ($title) = $rec =~ /^(.*)$/m;
            if ($rec =~ /\Q$ValgrindMatch\E/ || $ValgrindAll) {
                my $tb = Test::More->builder;
                $tb->no_ending(1);
                Test::More::fail("$name - valgrind: $title");
                Test::More::diag("valgrind record from $file:\n$rec");
            } else {
                Test::More::diag("$name - valgrind (outside \"$ValgrindMatch\" "
                                 . "frames, not failing):\n$rec");
            }
        }
    }
}

#---------------------------------------------------------------------------
# The driver
#---------------------------------------------------------------------------

sub run_tests () {
    check_unsupported_env();

    $NginxVersion = get_nginx_version();
    $PcreVersion = get_pcre_version();

    if (!defined $ENV{TEST_NGINX_SERVER_PORT}) {
        $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    }

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }
        $block->set_value("name", $0 . " " . $block->name);
        run_test($block);
        cleanup_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# "N: <op> x.y.z" style skip specs -> (count, should_skip, reason)
sub parse_skip_specs ($$) {
    my ($block, $name) = @_;
    my ($count, $skip, $reason);

    my $ver_cmp = sub {
        my ($op, $ver) = @_;
        return eval "$NginxVersion $op $ver";
    };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($count, $reason) = ($1, "skip_eval");
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            $count = $1;
            my ($op, $ver) = ($2, get_canon_version($3, $4, $5));
            $reason = $6 || "nginx version $op $3.$4.$5";
            $skip = 1 if (!defined $NginxVersion && $op =~ /^</) || $ver_cmp->($op, $ver);
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $spec");
        }
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        if ($spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            $count = $1;
            my ($opa, $va) = ($2, get_canon_version($3, $4, $5));
            my $conj = $6;
            my ($opb, $vb) = ($7, get_canon_version($8, $9, $10));
            $reason = $11;
            my ($a, $b) = ($ver_cmp->($opa, $va), $ver_cmp->($opb, $vb));
            $skip = 1 if !defined $NginxVersion
                      || ($conj eq 'or' && ($a || $b))
                      || ($conj eq 'and' && ($a && $b));
        } else {
            bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        }
    } elsif (defined(my $spec3 = $block->skip_slave) and defined $BuildSlaveName) {
        if ($spec3 =~ /^\s*(\d+)\s*:\s*(\w+)\s*(?:(\w+)\s*)?(?:(\w+)\s*)?(?:\s*:\s*(.*))?\s*$/) {
            $count = $1;
            my @slaves = grep { defined } ($2, $3, $4);
            $reason = $5;
            $skip = 1 if $slaves[0] eq 'all' || grep { $_ eq $BuildSlaveName } @slaves;
        } else {
            bail_out("$name - Invalid --- skip_slave spec: $spec3");
        }
    }

    if (defined(my $spec = $block->skip_openssl)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?(?:\s*:\s*(.*))?\s*$/) {
            $count = $1;
            my ($op, @v) = ($2, $3, $4, $5, $6);
            $reason = $7;
            if (!$reason) {
                $reason = !defined $OpenSSLVersion ? "Not built with OpenSSL"
                        : "OpenSSL version $op $v[0].$v[1].$v[2]" . ($v[3] // '');
            }
            my $ver = get_canon_version_for_OpenSSL(@v);
            $skip = 1 if !defined $OpenSSLVersion || eval "$OpenSSLVersion $op $ver";
        } else {
            bail_out("$name - Invalid --- skip_openssl spec: $spec");
        }
    }

    $reason = "various reasons" unless defined $reason;
    return ($count, $skip, $reason);
}

sub parse_todo_specs ($$$) {
    my ($block, $name, $count) = @_;
    my ($todo, $reason);

    if (defined(my $spec = $block->todo_nginx)) {
        if ($spec =~ /^\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            my ($op, $ver) = ($1, get_canon_version($2, $3, $4));
            $reason = $5;
            $todo = 1 if (!defined $NginxVersion && $op =~ /^</)
                      || eval "$NginxVersion $op $ver";
        } else {
            bail_out("$name - Invalid --- todo_nginx spec: $spec");
        }
    }

    if (defined(my $spec = $block->todo)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($todo, $count, $reason) = (1, $1, $2);
        } else {
            bail_out("$name - Invalid --- todo spec: $spec");
        }
    }

    $reason = "various reasons" unless defined $reason;
    return ($todo, $count, $reason);
}

# Start nginx for a block; returns 0 when the block is finished (must_die)
sub start_nginx ($$$$$) {
    my ($block, $name, $config, $rand_ports, $first_time) = @_;
    my $must_die = $block->must_die;

    if (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        if (defined $pid && $pid ne '' && is_running($pid)) {
            kill_process($pid, 1, $name);
        }
        unlink $PidFile if -f $PidFile;
    }

    check_prev_block_shutdown_error_log();

    setup_server_root($first_time);
    if (defined(my $code = $block->post_setup_server_root)) {
        eval $code;
        bail_out("$name - post_setup_server_root failed: $@") if $@;
    }
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    if (!can_run($NginxBinary)) {
        bail_out("$name - Cannot find the nginx executable in the PATH environment");
    }

    if ($UseValgrind) {
        start_nginx_under_valgrind($name);
        sleep $TestNginxSleep;
        return 1;
    }

    # 0.32 passes -e, so that errors before the configuration is read go
    # to the server root's error.log whatever the binary's default
    my $cmd = "$NginxBinary -e $ServRoot/logs/error.log -p $ServRoot/ "
              . "-c $ConfFile > /dev/null";
    if (defined(my $preload = $ENV{TEST_NGINX_LD_PRELOAD})) {
        $preload .= " $ENV{LD_PRELOAD}" if defined $ENV{LD_PRELOAD};
        $cmd = qq{LD_PRELOAD="$preload" $cmd};
    }
    $cmd .= " 2> /dev/null" if defined $block->suppress_stderr;
    my $i = 0;
    my $waited = 0;
    $ErrLogFilePos = 0;

    while (1) {
        system($cmd);
        my $status = $?;
        my ($exec_failed, $coredump, $exit_code);
        if ($status == -1) {
            $exec_failed = 1;
        } else {
            $exit_code = $status >> 8;
            if ($status > (128 << 8)) {
                # the shell reports a signal death as 128 + signo
                $coredump = $exit_code & 128;
                $exit_code >>= 8;
            } else {
                $coredump = $status & 128;
            }
        }

        if (defined $must_die) {
            if ($exec_failed) {
                Test::More::fail("$name - failed to execute the nginx command line");
            } elsif ($coredump) {
                Test::More::fail("$name - nginx core dumped");
            } elsif (looks_like_number($must_die)) {
                Test::More::is($must_die, $exit_code,
                               "$name - die with the expected exit code");
            } else {
                Test::More::isnt($status, 0, "$name - die as expected");
            }

            $CheckErrorLog->($block, undef, 0, $i, 0);

            if ($status == 0) {
                warn "WARNING: $name - nginx must die but it does not; killing it (req $i)";
                for (1 .. 15) {
                    last if -f $PidFile;
                    sleep $TestNginxSleep;
                }
                my $pid = get_pid_from_pidfile($name);
                kill_process($pid, 1, $name);
            }

            next if ++$i < $RepeatEach;
            return 0;
        }

        last if $status == 0;

        $i++;
        my $delay = 0.1 * $i;
        $delay = 1 if $delay > 1;
        sleep $delay;
        $waited += $delay;
        next if $waited < 30;
        bail_out("$name - Cannot start nginx using command \"$cmd\" (status code $status).");
    }

    sleep $TestNginxSleep;
    return 1;
}

sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;

    if (my @problems = block_problems($block)) {
        Test::More::fail("$name - $_") for @problems;
        return;
    }

    my $first_time;
    if ($FirstTime) {
        $first_time = 1;
        undef $FirstTime;
    }

    my $rand_ports = {};
    $RandPorts = $rand_ports;
    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $LogLevel;
    $LogLevel = $block->log_level if $block->log_level;

    local $UseValgrind = $UseValgrind;
    undef $UseValgrind if defined $block->must_die;

    my ($should_restart, $should_reconfig);
    if (!defined $config) {
        if (!defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        # reuse the running server (and its error log) as is
        ($should_restart, $should_reconfig) = (0, 0);
    } else {
        $should_reconfig = (!defined $PrevConfig || $config ne $PrevConfig) ? 1 : 0;
        $should_restart = ($should_reconfig || $ForceRestartOnTest) ? 1 : 0;
    }

    my ($tests_to_skip, $should_skip, $skip_reason) = parse_skip_specs($block, $name);
    my ($should_todo, $todo_reason);
    ($should_todo, $tests_to_skip, $todo_reason)
        = parse_todo_specs($block, $name, $tests_to_skip);

    if (!$should_skip && $should_restart) {
        $PrevConfig = $config if $should_reconfig;
        return unless start_nginx($block, $name, $config, $rand_ports, $first_time);
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    my $i = 0;
    $ErrLogFilePos = 0;
    while ($i++ < $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
                $RunTestHelper->($block, 0, $i - 1);
            }
        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
                $RunTestHelper->($block, 0, $i - 1);
            }
        } else {
            $RunTestHelper->($block, 0, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            open my $out, '>>', $total_errlog
                or bail_out("Failed to append test case title to $total_errlog: $!\n");
            print $out "\n=== $0 $name\n";
            if (open my $in, '<', $ErrLogFile) {
                local $/;
                print $out scalar <$in>;
                close $in;
            }
            close $out;
        }
    }

    if ($UseValgrind && defined $ChildPid) {
        stop_nginx_under_valgrind($name);
        check_valgrind_logs($name);
    }
}

1;
