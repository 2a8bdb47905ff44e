package SmileApp;

# The apps behind proxy_pass in t/*.t, the drivers of the blocks that need
# requests to overlap, a reload or a killed worker, and the helpers that
# build requests and expectations.  Nothing here needs an nginx module
# other than the one under test: the apps and drivers are Perl processes
# started by this library, so the suite runs against any nginx binary.
#
# For every block that has a "--- config" (and is not "--- must_die"), a
# server process is started before the block (and stopped when the next
# block starts, or at the end), in a directory of the test file's own
# ($ENV{TEST_NGINX_SMILE_APPS}).  It listens on four
# unix sockets, one per app, and serves each connection in a child process
# (so a held request blocks nothing).  The apps log one line per request
# into nginx's error.log, "[app] PID: app received ...", so that blocks can
# check with error_log/no_error_log/grep_error_log that the app was (not)
# reached, in order with nginx's own lines.  State (the ledger's counts,
# held requests) lives in files and starts empty for every block.
#
#   app      upstream "app" ($APP_HTTP_CONFIG): answers with the X-Smile-*
#            and Smile-Signature request headers (names in lowercase,
#            sorted, values byte for byte), the body's length and MD5, and
#            the body itself when it is at most 64k; see app_sees()
#   echo     upstream "echo" ($ECHO_HTTP_CONFIG): answers with the request
#            line (method and URI), every request header line as received
#            except Connection (its value is the proxy's default, which
#            differs between nginx versions), an empty line and the body
#   ledger   upstream "ledger" ($LEDGER_HTTP_CONFIG): counts the deliveries
#            of each event id (X-Smile-Event-Id), logs "app received ID
#            TYPE delivery N", answers "delivery N of ID" and the X-Smile-*
#            headers it received (lowercase names, sorted); the query
#            string steers it: status=NNN answers with that status, hold=1
#            does not answer before the id is released (or 120 s).  GET
#            /hits lists "ID N" for every id, GET /release?id=ID releases
#            it; $LEDGER_LOCATIONS proxies both from the test server.
#   driver   a block with a "--- driver" section (Perl code) gets a
#            "location = /drive" that runs it, with a SmileApp::Driver
#            object in $d (see that package below), for "POST /drive":
#            the driver sends its own requests to nginx and answers with
#            what it printed.
#
# Requests are proxied with whatever the nginx version's proxy defaults
# are (HTTP/1.0 or 1.1, keepalive or not): the apps read Content-Length
# or chunked bodies and close the connection after each answer.

use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use Exporter qw(import);
use JSON::PP ();
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes ();
use SmileTest;          # (puts tools/lib, the harness library, on @INC)

our @EXPORT = qw($APP_HTTP_CONFIG with_app post hdrs app_sees error_page
                 rejected conf_error planned_tests);
our @EXPORT_OK = qw($ECHO_HTTP_CONFIG $LEDGER_HTTP_CONFIG $LEDGER_LOCATIONS
                    ledger_sees acknowledged events_list with_ledger
                    with_echo have_lua tx_event forwarded tampered);
our %EXPORT_TAGS = (ledger => [qw($LEDGER_HTTP_CONFIG $LEDGER_LOCATIONS
                                  ledger_sees acknowledged events_list
                                  with_ledger)]);

# how long the apps hold a request and the drivers wait for anything
our $TIMEOUT = 120;

our $DIR = tempdir('smile-apps-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TEST_NGINX_SMILE_APPS} = $DIR;

# http{} settings: the app, reached with "proxy_pass http://app"
our $APP_HTTP_CONFIG = <<'_EOC_';
    server_tokens off;

    upstream app {
        server unix:$TEST_NGINX_SMILE_APPS/app.sock;
    }
_EOC_

# the echo app, reached with "proxy_pass http://echo"
our $ECHO_HTTP_CONFIG = <<'_EOC_';
    upstream echo {
        server unix:$TEST_NGINX_SMILE_APPS/echo.sock;
    }
_EOC_

# the ledger, reached with "proxy_pass http://ledger"
our $LEDGER_HTTP_CONFIG = <<'_EOC_';
    server_tokens off;

    upstream ledger {
        server unix:$TEST_NGINX_SMILE_APPS/ledger.sock;
    }
_EOC_

# on the test server: GET /hits and GET /release?id=ID, from the ledger
our $LEDGER_LOCATIONS = <<'_EOC_';

    location = /hits {
        proxy_pass http://ledger;
    }

    location = /release {
        proxy_pass http://ledger;
    }
_EOC_

# added to a block with "--- driver"; X-Front-Pid names the worker that
# proxies the driver's request
our $DRIVER_HTTP_CONFIG = <<'_EOC_';
    upstream smile_driver {
        server unix:$TEST_NGINX_SMILE_APPS/driver.sock;
    }
_EOC_

our $DRIVER_LOCATION = <<'_EOC_';

    location = /drive {
        proxy_pass http://smile_driver;
        proxy_set_header X-Front-Pid $pid;
        proxy_read_timeout 10m;
    }
_EOC_

# ---------------------------------------------------------------------
# Requests and expectations

# "POST /hook" (or $uri) with an exact body (sent with our own
# Content-Length, see hdrs)
sub post {
    my ($body, $uri) = @_;
    return "POST " . (defined $uri ? $uri : "/hook") . "\n" . $body;
}

# more_headers: a signature (default: the right one) and the exact length
sub hdrs {
    my ($body, $sig, @more) = @_;
    $sig = sign($body) unless defined $sig;
    return join "\n", "Smile-Signature: $sig",
                      "Content-Length: " . length($body), @more;
}

# A block preprocessor (add_block_preprocessor(\&with_app)): a block
# without its own http_config gets $APP_HTTP_CONFIG
sub with_app {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $APP_HTTP_CONFIG);
    }
}

# A block preprocessor (add_block_preprocessor(\&with_echo)): the echo
# app after the block's own http_config (must_die blocks get nothing)
sub with_echo {
    my $block = shift;

    append($block, http_config => $ECHO_HTTP_CONFIG)
        unless defined $block->must_die;
}

# a TRANSACTIONS_ADDED event with $n transactions (about 100 bytes each)
sub tx_event {
    my ($id, $n) = @_;
    my $user = 'tenantId-123abc456def789abc123def456abc78';
    my $account = 'a-123abc456def789abc123def456abc78';
    my @tx = map {
        sprintf '{"id":"tx-%05d","amount":%d.%02d,"currency":"PHP",'
                . '"description":"Payroll transfer %05d",'
                . '"postedAt":"2021-04-%02dT09:30:24Z"}',
                $_, $_ * 37 % 10000, $_ % 100, $_, $_ % 28 + 1
    } 1 .. $n;
    return qq({"id":"$id","version":1,"type":"TRANSACTIONS_ADDED",)
           . qq("createdAt":"2021-04-14T09:30:24Z","data":{"userId":"$user",)
           . qq("accountId":"$account","transactions":[) . join(",", @tx)
           . "]}}\n";
}

# $body with one byte in the middle changed (same length)
sub tampered {
    my ($body) = @_;
    my $i = int(length($body) / 2);
    $i++ while $i < length($body) && substr($body, $i, 1) !~ /[a-z0-9]/;
    die "nothing to tamper with" if $i >= length $body;
    my $c = substr $body, $i, 1;
    substr($body, $i, 1) = $c eq 'a' ? 'b' : 'a';
    return $body;
}

# the app's answer for an authentic event: headers derived from the JSON
# (top-level id/type/createdAt, data.userId) unless given
sub forwarded {
    my ($body, %x) = @_;
    if (!%x) {
        my $ev = JSON::PP->new->utf8->decode($body);
        %x = ('X-Smile-Event-Id' => $ev->{id},
              'X-Smile-Event-Type' => $ev->{type});
        $x{'X-Smile-Event-Created-At'} = $ev->{createdAt}
            if defined $ev->{createdAt};
        $x{'X-Smile-User-Id'} = $ev->{data}{userId}
            if ref $ev->{data} eq 'HASH' && defined $ev->{data}{userId};
    }
    return app_sees($body, 'Smile-Signature' => sign($body), %x);
}

# what the app answers when it received $body with these headers
sub app_sees {
    my ($body, %h) = @_;
    my @lines = sort map { lc($_) . ": $h{$_}\r\n" } keys %h;
    return join('', @lines) . "body " . length($body) . " " . md5_hex($body)
           . "\n" . (length($body) <= 65536 ? $body : '');
}

# nginx's own error page (server_tokens off): no secret, signature or body
sub error_page {
    my ($status) = @_;
    my %text = (400 => '400 Bad Request',
                401 => '401 Authorization Required',
                405 => '405 Not Allowed',
                413 => '413 Request Entity Too Large');
    my $t = $text{$status} or die "no error page text for $status";
    return "<html>\r\n<head><title>$t</title></head>\r\n<body>\r\n"
           . "<center><h1>$t</h1></center>\r\n<hr><center>nginx</center>\r\n"
           . "</body>\r\n</html>\r\n";
}

# the rejection line: level, result, reason, event id part, client context;
# options level, client, method, proto
sub rejected {
    my ($result, $reason, $id, %o) = @_;
    my $level  = $o{level}  || 'warn';
    my $client = $o{client} || '127.0.0.1';
    my $method = $o{method} || 'POST';
    my $proto  = $o{proto}  || 'HTTP/1.1';
    return qr/\[\Q$level\E\] \d+#\d+: \*\d+ smile webhook rejected request: \Q$result ($reason)$id\E, client: \Q$client\E, server: localhost, request: "\Q$method\E \/hook \Q$proto\E"/;
}

# what the ledger answers for delivery $n of $body (one of our compact
# events or a seed event), given the headers the module adds; %more adds
# headers (e.g. 'X-Smile-Webhook-Result' => 'duplicate')
sub ledger_sees {
    my ($n, $body, %more) = @_;
    my %h = injected($body);
    %h = (%h, %more);
    return "delivery $n of $h{'X-Smile-Event-Id'}\n"
           . join('', sort map { lc($_) . ": $h{$_}\n" } keys %h);
}

# a driver request's body: "SIGNATURE LENGTH\nBODY\n" for each event, then
# "end" (Test::Nginx trims a request body that ends with blanks)
sub events_list {
    return join('', map { sign($_) . ' ' . length($_) . "\n$_\n" } @_)
           . "end\n";
}

# X-Smile-* headers the module injects for an authentic event
sub injected {
    my ($body) = @_;
    my %h;
    my %key = (id => 'X-Smile-Event-Id', type => 'X-Smile-Event-Type',
               createdAt => 'X-Smile-Event-Created-At');
    for my $k (keys %key) {
        $h{$key{$k}} = $1 if $body =~ /"\Q$k\E"\s*:\s*"([^"]*)"/;
    }
    $h{'X-Smile-User-Id'} = $1 if $body =~ /"userId"\s*:\s*"([^"]*)"/;
    return %h;
}

# the log line of an event answered 200 without being forwarded
sub acknowledged {
    my ($result, $reason, $id, %o) = @_;
    my $mode = $o{report} ? 'would acknowledge (report mode) request without forwarding'
                          : 'acknowledged request without forwarding';
    my $uri = $o{uri} || '/hook';
    my $proto = $o{proto} || 'HTTP/1.1';
    return qr/\[info\] \d+#\d+: \*\d+ smile webhook \Q$mode: $result ($reason), event id "$id"\E, client: 127\.0\.0\.1, server: localhost, request: "POST \Q$uri $proto\E"/;
}

# A block preprocessor (add_block_preprocessor(\&with_ledger)): the ledger
# goes after the block's own http_config, and its locations after the
# block's config.  must_die blocks get nothing.
sub with_ledger {
    my $block = shift;

    return if defined $block->must_die;

    append($block, http_config => $LEDGER_HTTP_CONFIG);
    append($block, config => $LEDGER_LOCATIONS) if defined $block->config;
}

# $text after the block's own section
sub append {
    my ($block, $section, $text) = @_;
    my $v = $block->$section;
    $block->set_value($section, (defined $v ? $v : '') . $text);
}

# ---------------------------------------------------------------------
# Configuration errors: "[LEVEL] ... MESSAGE in FILE:LINE" where LINE must
# be line $n (from 1, blank lines included) of the block's own
# "--- $section" as it stands in the nginx.conf the framework wrote.  The
# line is looked up in that file when the pattern is matched, so no
# assertion depends on the framework's template (which differs between
# Test::Nginx releases).  $msg and $o{after} (what follows "FILE:LINE" on
# the line) are strings, matched literally, or qr//.

our %Sections;      # the current block's sections, set by prepare()

sub conf_error {
    my ($level, $msg, $section, $n, %o) = @_;
    my $m = ref $msg ? $msg : quotemeta $msg;
    my $after = !defined $o{after} ? '' : ref $o{after} ? $o{after}
                                                       : quotemeta $o{after};
    return qr/\[\Q$level\E\] .*$m in (?<file>\S+\/conf\/nginx\.conf):(?<line>\d+)$after$(?(?{ !SmileApp::conf_line_is($+{file}, $+{line}, $section, $n) })(*FAIL))/;
}

sub conf_line_is {
    my ($file, $line, $section, $n) = @_;
    my $text = $Sections{$section};
    return 0 unless defined $text;

    # the section's lines, each a pattern: $TEST_NGINX_* variables were
    # expanded, trailing blanks may differ
    my @want = split /\n/, $text;
    pop @want while @want && $want[-1] !~ /\S/;
    return 0 unless $n >= 1 && $n <= @want;
    my @pats = map {
        my $p = join '.*?', map { quotemeta } split /\$TEST_NGINX_\w+/, $_, -1;
        qr/^$p\s*$/;
    } @want;

    open my $fh, '<', $file or return 0;
    my @conf = <$fh>;
    close $fh;
    chomp @conf;

    # where the section starts: its lines, in order
    START: for my $start (0 .. @conf - @pats) {
        for my $k (0 .. $#pats) {
            next START unless $conf[$start + $k] =~ $pats[$k];
        }
        return $start + $n == $line;
    }
    return 0;
}

# ---------------------------------------------------------------------
# lua: the few blocks that test the interplay with lua-nginx-module need it
# (the rest of the suite loads only the module under test)

sub have_lua {
    my $mods = $ENV{TEST_NGINX_LOAD_MODULES} || '';
    return "ngx_http_lua_module loaded" if $mods =~ /\bngx_http_lua_module\.so\b/;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $v = `$bin -V 2>&1`;
    return "lua built into nginx" if defined $v && $v =~ /lua-nginx-module|ngx_lua|http_lua/;
    return undef;
}

# ---------------------------------------------------------------------
# The plan: the number of subtests the framework runs for the file's
# blocks, in one repeat_each round (Test::Nginx's own counting: a status
# check per response, one for any response body check, one per header
# named in response_headers (or _like), one each for raw_response_headers
# _like and _unlike; the error log is checked after every response, one
# subtest per error_log/no_error_log pattern and one for grep_error_log;
# the access log, one per access_log/no_access_log pattern; a must_die
# block has one check plus its error log patterns; a block that skip_eval
# skips has the number it names).
#
#   plan tests => repeat_each() * planned_tests();

sub planned_tests {
    my $total = 0;
    for my $block (Test::Base::blocks()) {
        $total += block_tests($block);
    }
    return $total;
}

sub patterns {
    my ($v) = @_;
    return 0 unless defined $v;
    return scalar @$v if ref $v eq 'ARRAY';
    return 1 if ref $v;
    return scalar grep { length } split /\n+/, $v;
}

sub indexed {
    my ($v, $i) = @_;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

sub block_tests {
    my ($block) = @_;

    # "--- skip_eval: N: CODE": N skipped subtests when CODE is true
    if (defined(my $spec = $block->skip_eval)) {
        my ($n, $code) = $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or die $block->name . ": bad --- skip_eval\n";
        my $skip = eval $code;
        die $block->name . ": --- skip_eval: $@" if $@;
        return $n if $skip;
    }
    my $log = patterns($block->error_log) + patterns($block->no_error_log)
              + (defined $block->grep_error_log ? 1 : 0);

    return 1 + $log if defined $block->must_die;

    $log += patterns($block->access_log) + patterns($block->no_access_log);

    my $reqs = $block->pipelined_requests;
    $reqs = $block->request unless defined $reqs;
    my $n = ref $reqs eq 'ARRAY' ? @$reqs : 1;
    $n = 1 if defined $block->raw_request;

    my $count = $n * (1 + $log);
    for my $i (0 .. $n - 1) {
        $count++ if defined $block->response_body
                    || defined $block->response_body_like
                    || defined $block->response_body_unlike;
        $count++ if defined $block->raw_response_headers_like;
        $count++ if defined $block->raw_response_headers_unlike;
        my $h = defined $block->response_headers ? $block->response_headers
                                                 : $block->response_headers_like;
        my %names;
        for my $line (split /\n/, indexed($h, $i) // '') {
            $names{$1} = 1 if $line =~ /^\s*!?\s*([^:\s]+)/;
        }
        $count += keys %names;
    }
    return $count;
}

# ---------------------------------------------------------------------
# The block preprocessor: registered when this file is loaded, it runs
# last, after the test file's own.

our $Server;        # pid of the running app server
our $Owner = $$;    # the test process (children never clean up)

sub prepare {
    my ($block) = @_;

    %Sections = map { $_ => scalar $block->$_ } qw(config http_config main_config);

    # a block without config runs on the previous block's nginx and apps
    return unless defined $block->config;

    stop_apps();
    return if defined $block->must_die;

    my $driver;
    if (defined $block->driver) {
        $driver = compile_driver($block);
        append($block, http_config => $DRIVER_HTTP_CONFIG);
        append($block, config => $DRIVER_LOCATION);
    }

    start_apps($driver);
}

sub compile_driver {
    my ($block) = @_;
    my $name = $block->name;
    (my $where = $name) =~ s/[\n"]/ /g;
    my $sub = eval "package main; use strict; use warnings;\n"
                   . "sub { my \$d = shift;\n#line 1 \"driver of $where\"\n"
                   . $block->driver . "\n}";
    if (!$sub) {
        Test::Nginx::Util::bail_out("$name - cannot compile --- driver: $@");
    }
    return $sub;
}

# the error log the apps write to (Test::Nginx's)
sub error_log_file {
    return $Test::Nginx::Util::ErrLogFile;
}

sub start_apps {
    my ($driver) = @_;

    my $state = "$DIR/state";
    remove_dir($state);
    mkdir $state or die "cannot create $state: $!";
    unlink "$DIR/ready";

    my %ctx = (dir => $DIR, state => $state, driver => $driver, owner => $$,
               errlog => error_log_file(),
               port => Test::Nginx::Util::server_port_for_client(),
               servroot => $Test::Nginx::Util::ServRoot,
               conf => $Test::Nginx::Util::ConfFile);

    my $pid = fork;
    die "cannot fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $ok = eval { SmileApp::Server::run(\%ctx); 1 };
        print STDERR "app server: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    $Server = $pid;

    my $deadline = Time::HiRes::time() + 10;
    until (-e "$DIR/ready") {
        if (waitpid($pid, WNOHANG) == $pid || Time::HiRes::time() > $deadline) {
            undef $Server;
            die "the app server did not start\n";
        }
        Time::HiRes::sleep(0.005);
    }
}

sub stop_apps {
    return unless $Server && $$ == $Owner;
    my $pid = $Server;
    undef $Server;
    kill 'TERM', $pid;
    my $deadline = Time::HiRes::time() + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (Time::HiRes::time() > $deadline) {
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            last;
        }
        Time::HiRes::sleep(0.005);
    }
}

sub remove_dir {
    my ($dir) = @_;
    return unless -d $dir;
    opendir my $dh, $dir or die "cannot open $dir: $!";
    unlink map { "$dir/$_" } grep { !/^\.\.?$/ } readdir $dh;
    closedir $dh;
    rmdir $dir or die "cannot remove $dir: $!";
}

END {
    stop_apps() if $$ == $Owner;
}

{
    no warnings 'once';
    push @Test::Nginx::Socket::ExtraSections, 'driver';
}
Test::Nginx::Socket::add_block_preprocessor(\&prepare);

# ---------------------------------------------------------------------
package SmileApp::State;

# Small counters and flags in files (one per key), shared by the app
# server's children and the drivers.

use Fcntl qw(:flock);

sub path {
    my ($state, $key) = @_;
    (my $k = $key) =~ s/([^A-Za-z0-9._:-])/sprintf '%%%02x', ord $1/ge;
    return "$state/$k";
}

sub get {
    my ($state, $key) = @_;
    open my $fh, '<', path($state, $key) or return undef;
    my $v = <$fh>;
    close $fh;
    return $v;
}

sub set {
    my ($state, $key, $value) = @_;
    my $p = path($state, $key);
    open my $fh, '>', "$p.$$" or die "cannot write $p: $!";
    print $fh $value;
    close $fh;
    rename "$p.$$", $p or die "cannot rename to $p: $!";
}

sub incr {
    my ($state, $key, $delta) = @_;
    open my $lock, '>>', "$state/.lock" or die "cannot lock: $!";
    flock $lock, LOCK_EX or die "cannot lock: $!";
    my $v = (get($state, $key) || 0) + $delta;
    set($state, $key, $v);
    close $lock;
    return $v;
}

# key => value for every key that starts with $prefix
sub all {
    my ($state, $prefix) = @_;
    opendir my $dh, $state or return ();
    my %out;
    for my $f (readdir $dh) {
        next if $f =~ /^\./ || $f =~ /\.\d+$/;
        (my $key = $f) =~ s/%([0-9a-f]{2})/chr hex $1/ge;
        next unless index($key, $prefix) == 0;
        $out{substr $key, length $prefix} = get($state, $key);
    }
    closedir $dh;
    return %out;
}

# ---------------------------------------------------------------------
package SmileApp::Server;

use IO::Select;
use IO::Socket::UNIX;
use POSIX qw(strftime);
use Socket qw(SOCK_STREAM);
use Digest::MD5 qw(md5_hex);
use Time::HiRes ();
use Smile::Harness::HTTP ();

my %Ctx;

sub run {
    my ($ctx) = @_;
    %Ctx = %$ctx;

    # not the test process's handlers (they stop nginx)
    $SIG{$_} = 'DEFAULT' for qw(INT HUP QUIT ALRM USR1 USR2 __DIE__ __WARN__);
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'IGNORE';
    setpgrp(0, 0);
    $SIG{TERM} = sub {
        $SIG{TERM} = 'IGNORE';
        kill 'TERM', -$$;
        POSIX::_exit(0);
    };

    my (@listeners, %kind);
    for my $kind (qw(app echo ledger driver)) {
        my $path = "$Ctx{dir}/$kind.sock";
        unlink $path;
        my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path,
                                      Listen => 1024)
            or die "cannot listen on $path: $!";
        push @listeners, $l;
        $kind{fileno $l} = $kind;
    }
    open my $ready, '>', "$Ctx{dir}/ready" or die "cannot write ready: $!";
    close $ready;

    # until stopped, or the test process is gone (killed by a signal, it
    # could not stop us)
    my $sel = IO::Select->new(@listeners);
    while (getppid() == $Ctx{owner}) {
        for my $l ($sel->can_read(0.5)) {
            my $c = $l->accept or next;
            my $kind = $kind{fileno $l};
            my $pid = fork;
            if (!defined $pid) {
                close $c;
                next;
            }
            if ($pid == 0) {
                $SIG{CHLD} = 'DEFAULT';
                $SIG{TERM} = 'DEFAULT';
                close $_ for @listeners;
                my $ok = eval { serve($kind, $c); 1 };
                app_log("$kind failed: $@") unless $ok;
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    kill 'TERM', -$$;
}

# one line into nginx's error.log
sub app_log {
    my ($msg) = @_;
    $msg =~ s/\n/ /g;
    open my $fh, '>>', $Ctx{errlog} or return;
    syswrite $fh, strftime('%Y/%m/%d %H:%M:%S', localtime) . " [app] $$: $msg\n";
    close $fh;
}

# the next request from nginx, or undef; { method, uri, lines => ["Name:
# value", ...] as received, headers => {lowercase name => value}, body }
sub read_request {
    my ($c) = @_;
    my $buf = '';
    my $r = Smile::Harness::HTTP::read_request($c, \$buf,
                                               idle => $SmileApp::TIMEOUT);
    die "no complete request\n" unless $r && !$r->{error};
    $r->{lines} = [map { "$_->[0]: $_->[1]" } @{ $r->{headers} }];
    $r->{headers} = { map { (lc $_->[0] => $_->[1]) } @{ $r->{headers} } };
    return $r;
}

sub respond {
    my ($c, $status, $body) = @_;
    Smile::Harness::HTTP::reply($c, $status, $body);
    close $c;
}

# the request header lines whose names match $re: the name in lowercase,
# the rest of the line as received
sub header_lines {
    my ($req, $re) = @_;
    return sort map { /^([^:]+)(:.*)$/ ? lc($1) . $2 : () }
                grep { /^(?:$re):/i } @{ $req->{lines} };
}

sub arg {
    my ($req, $name) = @_;
    return $req->{uri} =~ /[?&]\Q$name\E=([^&]*)/ ? $1 : undef;
}

sub serve {
    my ($kind, $c) = @_;
    my $req = read_request($c);
    my $handler = SmileApp::Server->can("serve_$kind");
    $handler->($c, $req);
}

sub serve_app {
    my ($c, $req) = @_;
    my $body = $req->{body};
    app_log("app received $req->{method} $req->{uri} with "
            . length($body) . " body bytes");
    my @lines = header_lines($req, 'x-smile-[^:]*|smile-signature');
    respond($c, 200, join('', map { "$_\r\n" } @lines)
                     . "body " . length($body) . " " . md5_hex($body) . "\n"
                     . (length($body) <= 65536 ? $body : ''));
}

sub serve_echo {
    my ($c, $req) = @_;
    app_log("app received $req->{method} $req->{uri} with "
            . length($req->{body}) . " body bytes");
    respond($c, 200, "$req->{method} $req->{uri}\n"
                     . join('', map { "$_\n" }
                                grep { !/^connection:/i } @{ $req->{lines} })
                     . "\n" . $req->{body});
}

sub serve_ledger {
    my ($c, $req) = @_;
    my $state = $Ctx{state};

    if ($req->{uri} eq '/hits') {
        my %hits = SmileApp::State::all($state, 'hits:');
        respond($c, 200, join '', map { "$_ $hits{$_}\n" } sort keys %hits);
        return;
    }
    if ($req->{uri} =~ m{^/release\?id=(.*)$}) {
        SmileApp::State::set($state, "release:$1", 1);
        respond($c, 200, "released $1\n");
        return;
    }

    my $id = $req->{headers}{'x-smile-event-id'};
    $id = '-' unless defined $id;
    my $type = $req->{headers}{'x-smile-event-type'};
    my $n = SmileApp::State::incr($state, "hits:$id", 1);
    app_log("app received $id " . (defined $type ? $type : '-')
            . " delivery $n");

    if (arg($req, 'hold')) {
        SmileApp::State::set($state, "held-by:$id",
                             $req->{headers}{'x-front-pid'} || 0);
        SmileApp::State::incr($state, "holding:$id", 1);
        my $deadline = Time::HiRes::time() + $SmileApp::TIMEOUT;
        until (SmileApp::State::get($state, "release:$id")
               || Time::HiRes::time() > $deadline)
        {
            Time::HiRes::sleep(0.01);
        }
        SmileApp::State::incr($state, "holding:$id", -1);
    }

    my $status = arg($req, 'status') || 200;
    respond($c, $status, "delivery $n of $id\n"
                         . join('', map { "$_\n" }
                                    header_lines($req, 'x-smile-[^:]*')));
}

sub serve_driver {
    my ($c, $req) = @_;
    my $d = SmileApp::Driver->new($req, \%Ctx);
    my $ok = eval { $Ctx{driver}->($d); 1 };
    if (!$ok) {
        respond($c, 500, $d->{out} . "driver died: $@");
        return;
    }
    respond($c, 200, $d->{out});
}

# ---------------------------------------------------------------------
package SmileApp::Driver;

# What a "--- driver" block gets in $d.  Requests go to the test server
# (127.0.0.1, the framework's port) as HTTP/1.0 on a new connection each;
# a response is { status => N, headers => { lowercase name => value },
# body => '...' }.  Waits give up after $SmileApp::TIMEOUT seconds.
#
#   $d->say(...), $d->print(...)   the driver's answer
#   $d->uri, $d->body, $d->header(NAME)
#                                  the driver request's URI, body, headers
#   $d->front_pid                  the worker proxying the driver request
#   $d->events                     the events in the body (events_list()):
#                                  [{ sig =>, body =>, id => }, ...]
#   $d->send(METHOD, URI, [HEADER LINES], BODY)   send only: a socket
#   $d->receive(SOCKET)            its response
#   $d->request(...)               send and receive
#   $d->post(URI, BODY, SIG, HEADER LINES...)     a signed POST
#   $d->start_post(URI, BODY, SIG) the same, send only: a socket
#   $d->read_line(SOCKET)          the response's first line, without
#                                  waiting for the rest
#   $d->line(RESPONSE)             "STATUS RESULT LINE" (RESULT: X-Result
#                                  or "-"; LINE: the body's first line or "-")
#   $d->overlapping(EVENT)         two deliveries of EVENT (from events)
#                                  that overlap: the first is held by the
#                                  app while the second is sent; returns
#                                  both responses (first, second)
#   $d->wait_holding(ID, N)        until N deliveries of ID are held
#   $d->release(ID)                let them answer
#   $d->hits(ID), $d->held_by(ID)  the ledger's count, the front worker pid
#                                  of the last held delivery
#   $d->hup                        reload (SIGHUP to the master)
#   $d->from_new_worker(CODE)      calls CODE until the response it returns
#                                  comes (X-Pid header) from a worker that
#                                  did not exist before the last hup
#   $d->workers                    the master's worker pids (its children)
#   $d->kill_worker(PID)           SIGKILL, then until the master reaped it
#   $d->status                     GET /status, the body
#   $d->servroot, $d->conf_file    the server root, the nginx.conf path
#   $d->edit_conf(FROM => TO)      replace text in it (before a hup)
#   $d->sleep(SECONDS)

use IO::Select;
use Time::HiRes ();
use Smile::Harness::HTTP qw(connect_to parse_response wait_until write_all);
use Smile::Harness::Supervisor qw(proc_table);

sub new {
    my ($class, $req, $ctx) = @_;
    return bless { req => $req, ctx => $ctx, out => '' }, $class;
}

sub say { my $self = shift; $self->{out} .= join('', @_) . "\n" }
sub print { my $self = shift; $self->{out} .= join('', @_) }
sub uri { $_[0]{req}{uri} }
sub body { $_[0]{req}{body} }
sub header { $_[0]{req}{headers}{lc $_[1]} }
sub front_pid { $_[0]{req}{headers}{'x-front-pid'} }
sub servroot { $_[0]{ctx}{servroot} }
sub conf_file { $_[0]{ctx}{conf} }
sub sleep { Time::HiRes::sleep($_[1]) }

sub events {
    my ($self) = @_;
    my ($data, $pos, @events) = ($self->body, 0);
    while (substr($data, $pos, 3) ne 'end') {
        substr($data, $pos) =~ /\A([0-9a-f]+) (\d+)\n/
            or die "bad event list at byte $pos\n";
        my ($sig, $len) = ($1, $2);
        $pos += length($&);
        my $body = substr $data, $pos, $len;
        my ($id) = $body =~ /"id":\s*"([^"]+)"/;
        push @events, { sig => $sig, body => $body, id => $id };
        $pos += $len + 1;
    }
    return \@events;
}

sub send {
    my ($self, $method, $uri, $headers, $body) = @_;
    my $s = connect_to($self->{ctx}{port}, timeout => $SmileApp::TIMEOUT)
        or die "cannot connect to nginx: $@\n";
    my $req = "$method $uri HTTP/1.0\r\nHost: localhost\r\n"
              . join('', map { "$_\r\n" } @{ $headers || [] })
              . (defined $body ? "Content-Length: " . length($body) . "\r\n"
                               : '')
              . "\r\n" . (defined $body ? $body : '');
    write_all($s, $req) or die "cannot send: $!\n";
    return $s;
}

sub receive {
    my ($self, $s) = @_;
    my ($raw, $sel) = ('', IO::Select->new($s));
    while (1) {
        die "timed out waiting for a response\n"
            unless $sel->can_read($SmileApp::TIMEOUT);
        my $n = sysread $s, $raw, 65536, length $raw;
        die "cannot read: $!\n" unless defined $n;
        last unless $n;
    }
    close $s;
    my $res = parse_response(\$raw, 1);
    die "not an HTTP response\n" if !$res || $res->{status} eq 'garbage';
    return $res;
}

sub request {
    my $self = shift;
    return $self->receive($self->send(@_));
}

sub post {
    my ($self, $uri, $body, $sig, @headers) = @_;
    return $self->request('POST', $uri, ["Smile-Signature: $sig", @headers],
                          $body);
}

sub start_post {
    my ($self, $uri, $body, $sig) = @_;
    return $self->send('POST', $uri, ["Smile-Signature: $sig"], $body);
}

sub overlapping {
    my ($self, $ev) = @_;
    my $first = $self->start_post('/hook?hold=1', $ev->{body}, $ev->{sig});
    $self->wait_holding($ev->{id});
    my $second = $self->post('/hook', $ev->{body}, $ev->{sig});
    $self->release($ev->{id});
    return ($self->receive($first), $second);
}

sub read_line {
    my ($self, $s) = @_;
    my ($line, $sel) = ('', IO::Select->new($s));
    until ($line =~ /\r\n/) {
        die "timed out waiting for a response\n"
            unless $sel->can_read($SmileApp::TIMEOUT);
        sysread $s, $line, 1, length $line or die "connection closed\n";
    }
    $line =~ s/\r\n\z//;
    return $line;
}

sub edit_conf {
    my ($self, $from, $to) = @_;
    my $file = $self->conf_file;
    open my $fh, '<', $file or die "cannot open $file: $!\n";
    my $conf = do { local $/; <$fh> };
    close $fh;
    $conf =~ s/\Q$from\E/$to/ or die "\"$from\" is not in $file\n";
    open $fh, '>', $file or die "cannot write $file: $!\n";
    print $fh $conf;
    close $fh;
}

sub line {
    my ($self, $res) = @_;
    my ($first) = $res->{body} =~ /^([^\r\n]*)/;
    my $result = $res->{headers}{'x-result'};
    return "$res->{status} " . (defined $result ? $result : '-') . " "
           . (defined $first && length $first ? $first : '-');
}

sub wait_for {
    my ($what, $done) = @_;
    wait_until($SmileApp::TIMEOUT, $done, 0.01)
        or die "gave up waiting for $what\n";
}

sub wait_holding {
    my ($self, $id, $n) = @_;
    $n ||= 1;
    my $state = $self->{ctx}{state};
    wait_for("the app to hold $id", sub {
        (SmileApp::State::get($state, "holding:$id") || 0) >= $n
    });
}

sub release {
    my ($self, $id) = @_;
    SmileApp::State::set($self->{ctx}{state}, "release:$id", 1);
}

sub hits { SmileApp::State::get($_[0]{ctx}{state}, "hits:$_[1]") || 0 }
sub held_by { SmileApp::State::get($_[0]{ctx}{state}, "held-by:$_[1]") }

sub master_pid {
    my ($self) = @_;
    my $file = "$self->{ctx}{servroot}/logs/nginx.pid";
    open my $fh, '<', $file or die "cannot open $file: $!\n";
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    return $pid;
}

# the master's live children: its workers (under valgrind their command
# line is valgrind's, so they are not told apart by their title)
sub workers {
    my ($self) = @_;
    my $master = $self->master_pid;
    my %t = proc_table();
    return sort { $a <=> $b }
           grep { $t{$_}{ppid} == $master && $t{$_}{state} ne 'Z' } keys %t;
}

sub hup {
    my ($self) = @_;
    $self->{old_workers} = { map { $_ => 1 } $self->workers };
    kill 'HUP', $self->master_pid or die "kill -HUP failed: $!\n";
}

sub from_new_worker {
    my ($self, $code) = @_;
    my $res;
    wait_for("a worker started after the reload", sub {
        $res = $code->();
        my $pid = $res->{headers}{'x-pid'};
        die "no X-Pid header in the response\n" unless defined $pid;
        return !$self->{old_workers}{$pid};
    });
    return $res;
}

sub kill_worker {
    my ($self, $pid) = @_;
    kill 'KILL', $pid or die "kill -KILL $pid failed: $!\n";
    wait_for("the master to reap worker $pid", sub { !kill 0, $pid });
}

sub status {
    my ($self) = @_;
    return $self->request('GET', '/status')->{body};
}

1;
