#!/usr/bin/perl
# demo/backend.pl - a tiny HTTP/1.1 server standing in for "your app" behind nginx.
#
# Usage: perl demo/backend.pl [PORT]      (PORT 0 or omitted: pick a free port)
#
# It listens on 127.0.0.1, prints one line when it is ready:
#     [backend] listening on 127.0.0.1:PORT
# then one line per request it receives:
#     [backend] #CASE METHOD URI type=... id=... created_at=... user_id=... body=N sha256=HEX
# where type/id/created_at/user_id are the X-Smile-Event-Type, X-Smile-Event-Id,
# X-Smile-Event-Created-At and X-Smile-User-Id headers (added by the nginx module), CASE is
# the X-Demo-Case header (set by demo/run to match requests with its table; "-" if absent),
# body=N is the body size in bytes and sha256 its SHA-256. A header that is absent prints
# as "-"; a header sent more than once prints all values joined by ",". Any other X-Smile-*
# header that reaches the backend is listed as other=Name:value. Values are %-escaped
# outside printable ASCII, so each request is exactly one line. It answers 200, or the
# status in an X-Demo-Status header (demo/run sends "X-Demo-Status: 503" to play an app
# that fails one delivery); the line then ends with status=NNN.
#
# Handles Content-Length and chunked bodies, "Expect: 100-continue", HTTP/1.0 and
# HTTP/1.1, keep-alive and "Connection: close". One forked child per connection.
# Stops on SIGTERM/SIGINT (and when the process that started it goes away).
# Core Perl only.

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(sha256_hex);
use POSIX ();

my $port = shift // 0;
die "usage: $0 [PORT]\n" unless $port =~ /^\d+$/;

$| = 1;
my $IDLE_TIMEOUT = 5;     # seconds to wait for the next bytes on a connection
my $MAX_HEADER   = 64 * 1024;
my $MAX_BODY     = 64 * 1024 * 1024;

my $srv = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => $port,
    Proto     => 'tcp',
    Listen    => 128,
    ReuseAddr => 1,
) or die "[backend] cannot listen on 127.0.0.1:$port: $@\n";

print "[backend] listening on 127.0.0.1:", $srv->sockport, "\n";

my $parent_pid = getppid();
my $stopping   = 0;
$SIG{CHLD} = 'IGNORE';    # children are reaped automatically
$SIG{PIPE} = 'IGNORE';
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { $stopping = 1 };

my $sel = IO::Select->new($srv);
while (!$stopping) {
    # Wake up every second to notice a vanished parent (demo/run killed with -9).
    last if getppid() != $parent_pid;
    next unless $sel->can_read(1);
    my $c = $srv->accept or next;
    my $pid = fork;
    if (!defined $pid) {          # cannot fork: serve inline
        serve($c);
        close $c;
        next;
    }
    if ($pid == 0) {
        $SIG{TERM} = $SIG{INT} = $SIG{HUP} = 'DEFAULT';
        close $srv;
        serve($c);
        close $c;
        POSIX::_exit(0);
    }
    close $c;
}

# Stop the connection handlers too, and wait for them (they are in our process group).
close $srv;
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = 'IGNORE';
kill 'TERM', -$$ if getpgrp() == $$;
1 while wait() != -1;
exit 0;

# ---------------------------------------------------------------------------

sub serve {
    my ($c) = @_;
    binmode $c;
    my $buf = '';
    my $csel = IO::Select->new($c);

    my $fill = sub {    # read more bytes into $buf; false on EOF/timeout/error
        return 0 unless $csel->can_read($IDLE_TIMEOUT);
        my $n = sysread($c, $buf, 65536, length $buf);
        return $n ? 1 : 0;
    };

    while (1) {
        # --- request head
        my $end;
        while (($end = index($buf, "\r\n\r\n")) < 0) {
            return if length($buf) > $MAX_HEADER;
            return unless $fill->();
        }
        my $head = substr($buf, 0, $end);
        substr($buf, 0, $end + 4) = '';
        $head =~ s/^(?:\r\n)+//;    # tolerate stray CRLFs between requests

        my ($reqline, @lines) = split /\r\n/, $head;
        my ($method, $uri, $version) =
            ($reqline // '') =~ m{^([A-Z]+) (\S+) HTTP/(1\.[01])$}
            or return reply($c, 400, "bad request line\n", 0);

        my @hdrs;    # [name, value] in order received
        for my $l (@lines) {
            my ($n, $v) = $l =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/
                or return reply($c, 400, "bad header line\n", 0);
            push @hdrs, [$n, $v];
        }
        my $h = sub {    # all values of a header, case-insensitive
            my $name = lc shift;
            return map { $_->[1] } grep { lc $_->[0] eq $name } @hdrs;
        };

        my ($conn) = map { lc } $h->('Connection');
        $conn //= '';
        my $keep = $version eq '1.1' ? $conn !~ /\bclose\b/ : $conn =~ /\bkeep-alive\b/;

        if ($version eq '1.1' && grep { lc eq '100-continue' } $h->('Expect')) {
            syswrite $c, "HTTP/1.1 100 Continue\r\n\r\n";
        }

        # --- request body
        my $body = '';
        my @te = $h->('Transfer-Encoding');
        my @cl = $h->('Content-Length');
        if (@te) {
            return reply($c, 501, "unsupported transfer-encoding\n", 0)
                unless lc(join ',', @te) eq 'chunked';
            while (1) {
                my $eol;
                while (($eol = index($buf, "\r\n")) < 0) { return unless $fill->() }
                my $line = substr($buf, 0, $eol);
                substr($buf, 0, $eol + 2) = '';
                my ($hex) = $line =~ /^([0-9A-Fa-f]+)/
                    or return reply($c, 400, "bad chunk\n", 0);
                my $size = hex $hex;
                if ($size == 0) {    # trailers until empty line
                    while (1) {
                        while (($eol = index($buf, "\r\n")) < 0) { return unless $fill->() }
                        my $t = substr($buf, 0, $eol);
                        substr($buf, 0, $eol + 2) = '';
                        last if $t eq '';
                    }
                    last;
                }
                return reply($c, 413, "too large\n", 0) if length($body) + $size > $MAX_BODY;
                while (length($buf) < $size + 2) { return unless $fill->() }
                $body .= substr($buf, 0, $size);
                substr($buf, 0, $size + 2) = '';
            }
        } elsif (@cl) {
            my %uniq = map { $_ => 1 } @cl;
            my ($len) = keys %uniq;
            return reply($c, 400, "bad content-length\n", 0)
                unless keys %uniq == 1 && $len =~ /^\d{1,12}$/;
            return reply($c, 413, "too large\n", 0) if $len > $MAX_BODY;
            while (length($buf) < $len) { return unless $fill->() }
            $body = substr($buf, 0, $len);
            substr($buf, 0, $len) = '';
        }

        # --- log one line (written before answering, so whoever gets our answer
        #     can already find the line)
        my $show = sub {
            my @v = $h->(shift);
            return '-' unless @v;
            return join ',', map { esc($_) } @v;
        };
        my %known = map { $_ => 1 }
            qw(x-smile-event-type x-smile-event-id x-smile-event-created-at x-smile-user-id);
        my @other = map { esc("$_->[0]:$_->[1]") }
            grep { lc($_->[0]) =~ /^x-smile-/ && !$known{ lc $_->[0] } } @hdrs;
        my $case = $show->('X-Demo-Case');
        my ($status) = grep { /^[2-5]\d\d$/ } $h->('X-Demo-Status');
        my $line = sprintf "[backend] #%s %s %s type=%s id=%s created_at=%s user_id=%s%s body=%d sha256=%s%s\n",
            $case, $method, esc($uri),
            $show->('X-Smile-Event-Type'), $show->('X-Smile-Event-Id'),
            $show->('X-Smile-Event-Created-At'), $show->('X-Smile-User-Id'),
            (@other ? ' other=' . join(',', @other) : ''),
            length($body), sha256_hex($body),
            ($status ? " status=$status" : '');
        syswrite STDOUT, $line;

        my $type = join ',', $h->('X-Smile-Event-Type');
        $type = $type eq '' ? 'a request' : $type;
        if ($status && $status != 200) {
            reply($c, $status, "sorry, cannot take $type right now\n", $keep);
        } else {
            reply($c, 200, "thanks, got $type\n", $keep);
        }
        return unless $keep;
    }
}

sub reply {
    my ($c, $status, $text, $keep) = @_;
    my %reason = (200 => 'OK', 400 => 'Bad Request', 413 => 'Payload Too Large',
                  500 => 'Internal Server Error', 501 => 'Not Implemented',
                  502 => 'Bad Gateway', 503 => 'Service Unavailable');
    my $msg = "HTTP/1.1 $status " . ($reason{$status} // 'Demo') . "\r\n"
        . "Content-Type: text/plain\r\n"
        . "Content-Length: " . length($text) . "\r\n"
        . "Connection: " . ($keep ? 'keep-alive' : 'close') . "\r\n"
        . "\r\n" . $text;
    my $off = 0;
    while ($off < length $msg) {
        my $n = syswrite($c, $msg, length($msg) - $off, $off);
        return unless $n;
        $off += $n;
    }
    return;
}

sub esc {
    my ($s) = @_;
    return "''" if $s eq '';
    $s =~ s/([^\x21-\x7e]|[%,=])/sprintf '%%%02X', ord $1/ge;
    return $s;
}
