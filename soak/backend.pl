#!/usr/bin/perl
# soak/backend.pl - the "app" behind nginx during the soak (started by soak/run).
#
#   perl soak/backend.pl LOGDIR WORKERS
#
# Environment: SOAK_SECRET (required) - the secret Smile signs with; the backend recomputes
# HMAC-SHA512(secret, body) itself for every request it receives. SOAK_BACKEND_FORGET=1 (a
# self-test of soak/run) leaves about 2% of the valid requests out of the log.
#
# Preforked: the parent listens on 127.0.0.1 (free port), prints
#     [soak-backend] listening on 127.0.0.1:PORT
# on stdout, then forks WORKERS processes that accept connections on the shared socket.
# Worker N appends one line per request to LOGDIR/backend.N.log (one syswrite per line, so
# a line is never torn), tab-separated key=value fields:
#
#   t=EPOCH pid=PID method=M uri=U req=X-Soak-Req body_id=ID-IN-BODY body_type=TYPE-IN-BODY
#   hdr_id=X-Smile-Event-Id hdr_type=X-Smile-Event-Type body_created=createdAt hdr_created=
#   X-Smile-Event-Created-At body_user=data.userId hdr_user=X-Smile-User-Id
#   nsig=N sig=valid|invalid|missing|multiple
#   len=BODY-BYTES sha=SHA256-PREFIX other=OTHER-X-SMILE-HEADERS
#
# Values are %-escaped outside printable ASCII (and %, tab, comma, =); "-" means absent,
# several header values are joined with ",". It answers 200 after logging (so whoever gets
# the 200 can rely on the line being written), with a small random delay on some requests
# so that requests are in flight when nginx reloads.
#
# Handles Content-Length and chunked bodies, keep-alive, HTTP/1.0 and 1.1. A worker that
# dies is replaced (and the parent logs it to stderr). Stops on SIGTERM/SIGINT, and when the
# process that started it goes away. Core Perl only.

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(hmac_sha512_hex sha256_hex);
use POSIX ();
use Time::HiRes qw(time sleep);

my ($LOGDIR, $WORKERS) = @ARGV;
die "usage: $0 LOGDIR WORKERS\n" unless defined $WORKERS && -d $LOGDIR && $WORKERS =~ /^\d+$/;
my $SECRET = $ENV{SOAK_SECRET};
my $FORGET = $ENV{SOAK_BACKEND_FORGET};   # harness self-test: do not log every 50th valid request
die "SOAK_SECRET is not set\n" unless defined $SECRET && length $SECRET;

$| = 1;
$SIG{PIPE} = 'IGNORE';

my $IDLE_TIMEOUT = 15;            # seconds without a byte on a connection: drop it
my $MAX_HEADER   = 64 * 1024;
my $MAX_BODY     = 16 * 1024 * 1024;

my $srv = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
    Listen => 1024, ReuseAddr => 1,
) or die "[soak-backend] cannot listen: $@\n";
print "[soak-backend] listening on 127.0.0.1:", $srv->sockport, "\n";

my $parent_of_parent = getppid();
my $stopping = 0;
my %kids;                          # pid => worker index

$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { $stopping = 1 };

sub start_worker {
    my ($idx) = @_;
    my $pid = fork;
    if (!defined $pid) { warn "[soak-backend] fork failed: $!\n"; return }
    if ($pid == 0) {
        $SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { $stopping = 1 };
        worker_loop($idx);
        POSIX::_exit(0);
    }
    $kids{$pid} = $idx;
}

start_worker($_) for 1 .. $WORKERS;

# The parent supervises: replaces dead workers, stops when told or orphaned. Bounded by
# the process that started it (soak/run), which always stops us.
while (!$stopping) {
    last if getppid() != $parent_of_parent;
    sleep 0.2;
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $idx = delete $kids{$pid} // next;
        warn "[soak-backend] worker $idx (pid $pid) exited with status $?, restarting\n";
        start_worker($idx) unless $stopping;
    }
}

close $srv;
kill 'TERM', keys %kids;
my $deadline = time + 5;
while (%kids && time < $deadline) {
    my $pid = waitpid(-1, POSIX::WNOHANG());
    if ($pid > 0) { delete $kids{$pid} } else { sleep 0.05 }
}
kill 'KILL', keys %kids if %kids;
1 while waitpid(-1, 0) > 0;
exit 0;

# ---------------------------------------------------------------------------

sub worker_loop {
    my ($idx) = @_;
    open my $log, '>>', "$LOGDIR/backend.$idx.log" or die "cannot open log: $!\n";
    binmode $log;
    my $sel = IO::Select->new($srv);
    $srv->blocking(0);
    srand($$ ^ int(time * 1000));
    while (!$stopping) {
        last if getppid() == 1;
        next unless $sel->can_read(0.5);
        my $c = $srv->accept or next;       # another worker may have won the race
        $c->blocking(1);
        serve($c, $log);
        close $c;
    }
}

sub esc {
    my ($s) = @_;
    return "''" if $s eq '';
    $s =~ s/([^\x21-\x7e]|[%,=\t])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

sub serve {
    my ($c, $log) = @_;
    binmode $c;
    my $buf  = '';
    my $csel = IO::Select->new($c);
    my $fill = sub {
        return 0 if $stopping;
        return 0 unless $csel->can_read($IDLE_TIMEOUT);
        my $n = sysread($c, $buf, 262144, length $buf);
        return $n ? 1 : 0;
    };

    for my $nreq (1 .. 10000) {
        my $end;
        while (($end = index($buf, "\r\n\r\n")) < 0) {
            return if length($buf) > $MAX_HEADER;
            return unless $fill->();
        }
        my $head = substr($buf, 0, $end);
        substr($buf, 0, $end + 4) = '';
        $head =~ s/^(?:\r\n)+//;
        my ($reqline, @lines) = split /\r\n/, $head;
        my ($method, $uri, $version) = ($reqline // '') =~ m{^([A-Z]+) (\S+) HTTP/(1\.[01])$}
            or return reply($c, 400, 0);
        my @hdrs;
        for my $l (@lines) {
            my ($n, $v) = $l =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/ or return reply($c, 400, 0);
            push @hdrs, [$n, $v];
        }
        my $h = sub { my $name = lc shift; map { $_->[1] } grep { lc $_->[0] eq $name } @hdrs };
        my ($conn) = map { lc } $h->('Connection');
        $conn //= '';
        my $keep = $version eq '1.1' ? $conn !~ /\bclose\b/ : $conn =~ /\bkeep-alive\b/;

        my $body = '';
        my @te = $h->('Transfer-Encoding');
        my @cl = $h->('Content-Length');
        if (@te) {
            return reply($c, 400, 0) unless lc(join ',', @te) eq 'chunked';
            while (1) {
                my $eol;
                while (($eol = index($buf, "\r\n")) < 0) { return unless $fill->() }
                my ($hex) = substr($buf, 0, $eol) =~ /^([0-9A-Fa-f]{1,8})/ or return reply($c, 400, 0);
                substr($buf, 0, $eol + 2) = '';
                my $size = hex $hex;
                if ($size == 0) {
                    while (1) {
                        while (($eol = index($buf, "\r\n")) < 0) { return unless $fill->() }
                        my $t = substr($buf, 0, $eol);
                        substr($buf, 0, $eol + 2) = '';
                        last if $t eq '';
                    }
                    last;
                }
                return reply($c, 413, 0) if length($body) + $size > $MAX_BODY;
                while (length($buf) < $size + 2) { return unless $fill->() }
                $body .= substr($buf, 0, $size);
                substr($buf, 0, $size + 2) = '';
            }
        } elsif (@cl) {
            my ($len) = @cl;
            return reply($c, 400, 0) unless @cl == 1 && $len =~ /^\d{1,12}$/;
            return reply($c, 413, 0) if $len > $MAX_BODY;
            while (length($buf) < $len) { return unless $fill->() }
            $body = substr($buf, 0, $len);
            substr($buf, 0, $len) = '';
        }

        # The backend's own verdict on what it received.
        my @sigs = $h->('Smile-Signature');
        my $sig = !@sigs ? 'missing' : @sigs > 1 ? 'multiple'
            : lc($sigs[0]) eq hmac_sha512_hex($body, $SECRET) ? 'valid' : 'invalid';
        # The event's own id/type: the first "id"/"type" keys of the body, which is the
        # top-level one for every body the soak sends (nested keys come later).
        my ($body_id)   = $body =~ /"id"\s*:\s*"([^"\\]{0,200})"/;
        my ($body_type) = $body =~ /"type"\s*:\s*"([^"\\]{0,200})"/;
        my ($body_created) = $body =~ /"createdAt"\s*:\s*"([^"\\]{0,200})"/;
        my ($body_user) = $body =~ /"userId"\s*:\s*"([^"\\]{0,200})"/;
        my $show = sub { my @v = $h->(shift); @v ? join(',', map { esc($_) } @v) : '-' };
        my %known = map { $_ => 1 } qw(x-smile-event-id x-smile-event-type
                                        x-smile-event-created-at x-smile-user-id);
        my @other = map { esc("$_->[0]:$_->[1]") }
            grep { lc($_->[0]) =~ /^x[-_]smile[-_]/ && !$known{ lc $_->[0] } } @hdrs;
        my $line = join("\t",
            sprintf('t=%.3f', time), "pid=$$", "method=$method", 'uri=' . esc($uri),
            'req=' . $show->('X-Soak-Req'),
            'body_id=' . (defined $body_id ? esc($body_id) : '-'),
            'body_type=' . (defined $body_type ? esc($body_type) : '-'),
            'hdr_id=' . $show->('X-Smile-Event-Id'),
            'hdr_type=' . $show->('X-Smile-Event-Type'),
            'body_created=' . (defined $body_created ? esc($body_created) : '-'),
            'hdr_created=' . $show->('X-Smile-Event-Created-At'),
            'body_user=' . (defined $body_user ? esc($body_user) : '-'),
            'hdr_user=' . $show->('X-Smile-User-Id'),
            'nsig=' . scalar(@sigs), "sig=$sig", 'len=' . length($body),
            'sha=' . substr(sha256_hex($body), 0, 16),
            'other=' . (@other ? join(',', @other) : '-')) . "\n";
        my $off = ($FORGET && $sig eq 'valid' && rand() < 0.02) ? length $line : 0;
        while ($off < length $line) {
            my $n = syswrite($log, $line, length($line) - $off, $off);
            die "backend log write failed: $!\n" unless $n;
            $off += $n;
        }

        # Sometimes take a little while, so requests are in flight during reloads.
        sleep(0.005 + rand(0.05)) if rand() < 0.15;
        reply($c, 200, $keep) or return;
        return unless $keep;
    }
}

sub reply {
    my ($c, $status, $keep) = @_;
    my %reason = (200 => 'OK', 400 => 'Bad Request', 413 => 'Payload Too Large');
    my $text = $status == 200 ? "{\"received\":true}\n" : "error\n";
    my $msg = "HTTP/1.1 $status $reason{$status}\r\nContent-Type: application/json\r\n"
        . "Content-Length: " . length($text) . "\r\n"
        . "Connection: " . ($keep ? 'keep-alive' : 'close') . "\r\n\r\n" . $text;
    my $off = 0;
    while ($off < length $msg) {
        my $n = syswrite($c, $msg, length($msg) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}
