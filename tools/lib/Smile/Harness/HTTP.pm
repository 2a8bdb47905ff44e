package Smile::Harness::HTTP;

# HTTP/1.1 on loopback, both ends, as the harness needs it: free ports,
# waiting until something is listening, one request to nginx and its answer
# (client side), one request read from nginx and an answer written back
# (the backends standing in for the app). Loopback addresses only.

use strict;
use warnings;

use Exporter qw(import);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use List::Util qw(min);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(have_ipv6 free_port can_connect wait_until connect_to
                    http_request parse_response listen_on read_request
                    header_values reply write_all esc unesc);

# ------------------------------------------------------------------ ports

sub have_ipv6 {
    return IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
                               Listen => 1) ? 1 : 0;
}

# a TCP port nobody listens on at 127.0.0.1 (and at ::1 too with v6 => 1),
# or undef; the caller must still cope with losing a race for it. The
# kernel picks it, or, with SMILE_HARNESS_PORTS=LOW-HIGH in the
# environment, it is taken from that range (several suites on one machine,
# each in a range of its own)
sub free_port {
    my (%o) = @_;
    my ($lo, $hi) = ($ENV{SMILE_HARNESS_PORTS} // '') =~ /^(\d+)-(\d+)$/;
    die "SMILE_HARNESS_PORTS must be LOW-HIGH, ports from 1024 to 65535\n"
        if ($ENV{SMILE_HARNESS_PORTS} // '') ne ''
           && !($lo && $lo >= 1024 && $hi <= 65535 && $lo <= $hi);
    for (1 .. ($lo ? 200 : 20)) {
        my $want = $lo ? $lo + int rand($hi - $lo + 1) : 0;
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $want,
                                      Proto => 'tcp', Listen => 1) or next;
        my $p = $s->sockport;
        next if $o{v6} && !IO::Socket::IP->new(LocalHost => '::1',
                                               LocalPort => $p, Listen => 1);
        return $p;
    }
    return undef;
}

sub can_connect {
    my ($port, $host) = @_;
    my $s = IO::Socket::IP->new(PeerHost => $host // '127.0.0.1',
                                PeerPort => $port, Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# calls $cond every $step seconds until it returns true (that value) or
# $seconds have passed (undef)
sub wait_until {
    my ($seconds, $cond, $step) = @_;
    my $deadline = time + $seconds;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if time >= $deadline;
        sleep($step // 0.05);
    }
}

# ------------------------------------------------------------------ client

# a connection to 127.0.0.1:PORT (from => another loopback address to send
# from), or to [::1]:PORT with v6 => 1; undef and $@ on failure
sub connect_to {
    my ($port, %o) = @_;
    my $s = $o{v6}
        ? IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port,
                              Timeout => $o{timeout} // 5)
        : IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                Proto => 'tcp', Timeout => $o{timeout} // 5,
                                ($o{from} ? (LocalAddr => $o{from}) : ()));
    return undef unless $s;
    binmode $s;
    return $s;
}

# One request on a connection of its own ("Connection: close"):
#   port, uri, method (POST), body, headers => [[name, value], ...],
#   from (a local address), timeout (5 s), agent (User-Agent)
# A POST gets Content-Type: application/json and Content-Length. Returns
# { status, headers => {lowercase name => value}, body } (chunked answers
# decoded) or { error => reason }.
sub http_request {
    my (%o) = @_;
    my $method = $o{method} // 'POST';
    my $timeout = $o{timeout} // 5;
    my $s = connect_to($o{port}, from => $o{from}, timeout => $timeout)
        or return { error => 'cannot connect'
                             . ($o{from} ? " from $o{from}" : '') . ": $@" };
    my $body = $o{body} // '';
    my $post = $method eq 'POST';
    my $req = "$method $o{uri} HTTP/1.1\r\n"
        . "Host: 127.0.0.1:$o{port}\r\n"
        . 'User-Agent: ' . ($o{agent} // 'smile-webhook-harness') . "\r\n"
        . ($post ? "Content-Type: application/json\r\n" : '')
        . join('', map { "$_->[0]: $_->[1]\r\n" } @{ $o{headers} // [] })
        . ($post ? 'Content-Length: ' . length($body) . "\r\n" : '')
        . "Connection: close\r\n\r\n" . $body;
    # nginx may answer (a 401, say) without reading the whole body: stop
    # writing then and read the answer
    write_all($s, $req);

    my ($buf, $sel, $deadline) = ('', IO::Select->new($s), time + $timeout);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    return { error => "no answer within $timeout s" } unless length $buf;
    my $r = parse_response(\$buf, 1);
    return { error => 'unparsable answer' }
        if !$r || $r->{status} eq 'garbage';
    return $r;
}

# One complete answer from the front of $$buf (removed from it), interim
# 1xx answers skipped; undef while it is incomplete. $at_eof: the connection
# has ended, so an answer without a length ends here. Returns
# { status, headers, body, close } with status "garbage" (and $$buf
# emptied) when the bytes are not an HTTP answer.
sub parse_response {
    my ($buf, $at_eof) = @_;
    for (1 .. 5) {
        my $end = index($$buf, "\r\n\r\n");
        return undef if $end < 0;
        my $head = substr($$buf, 0, $end);
        my ($status) = $head =~ m{^HTTP/1\.[01] (\d{3})};
        if (!$status) {
            $$buf = '';
            return { status => 'garbage', close => 1, body => '', headers => {} };
        }
        my %h;
        for (split /\r\n/, $head) { $h{ lc $1 } = $2 if /^([^:]+):\s*(.*?)\s*$/ }
        my $pos = $end + 4;
        if ($status =~ /^1/) { substr($$buf, 0, $pos) = ''; next }
        my $body = '';
        if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            while (1) {
                my $eol = index($$buf, "\r\n", $pos);
                return undef if $eol < 0;
                my ($hex) = substr($$buf, $pos, $eol - $pos) =~ /^([0-9a-fA-F]+)/;
                my $size = hex($hex // 0);
                $pos = $eol + 2;
                if ($size == 0) {
                    my $e = index($$buf, "\r\n", $pos);
                    return undef if $e < 0;
                    $pos = $e + 2;
                    last;
                }
                return undef if length($$buf) < $pos + $size + 2;
                $body .= substr($$buf, $pos, $size);
                $pos += $size + 2;
            }
        } elsif (defined $h{'content-length'}) {
            return undef if length($$buf) < $pos + $h{'content-length'};
            $body = substr($$buf, $pos, $h{'content-length'});
            $pos += $h{'content-length'};
        } elsif ($status != 204 && $status != 304) {
            return undef unless $at_eof;
            $body = substr($$buf, $pos);
            $pos = length $$buf;
        }
        substr($$buf, 0, $pos) = '';
        return { status => $status, headers => \%h, body => $body,
                 close => (($h{connection} // '') =~ /close/i ? 1 : 0) };
    }
    return undef;
}

# ------------------------------------------------------------------ server

# A listening socket on 127.0.0.1:$port (0: a free one), or undef and $@.
# An app that comes back after an outage wants its old port again: with
# retry => SECONDS it tries again (every 0.2 s) while the port is taken.
sub listen_on {
    my ($port, %o) = @_;
    my $deadline = time + ($o{retry} // 0);
    while (1) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      Listen => $o{backlog} // 128,
                                      ReuseAddr => 1);
        return $s if $s;
        return undef if time >= $deadline;
        sleep 0.2;
    }
}

my %REASON = (100 => 'Continue', 200 => 'OK', 400 => 'Bad Request',
              413 => 'Payload Too Large', 500 => 'Internal Server Error',
              501 => 'Not Implemented', 502 => 'Bad Gateway',
              503 => 'Service Unavailable');

# The next request on connection $c; $buf holds bytes read past the previous
# one. Options: idle (seconds to wait for bytes, 5), max_header (64 KB),
# max_body (16 MB), stop (a code ref: true gives up before a read).
# Handles Content-Length and chunked bodies, "Expect: 100-continue",
# HTTP/1.0 and 1.1 keep-alive. Returns
#   { method, uri, version, headers => [[name, value], ...], body, keep }
#   { error => STATUS, text => why }   a request that cannot be served
#   undef                              the connection ended (or went quiet)
sub read_request {
    my ($c, $buf, %o) = @_;
    my $idle = $o{idle} // 5;
    my $max_header = $o{max_header} // 64 * 1024;
    my $max_body = $o{max_body} // 16 * 1024 * 1024;
    my $sel = IO::Select->new($c);
    my $fill = sub {    # more bytes into $$buf; false on EOF, timeout, error
        return 0 if $o{stop} && $o{stop}->();
        return 0 unless $sel->can_read($idle);
        my $n = sysread($c, $$buf, 262144, length $$buf);
        return $n ? 1 : 0;
    };
    my $line = sub {    # the next CRLF-terminated line, or undef
        my $eol;
        while (($eol = index($$buf, "\r\n")) < 0) { return undef unless $fill->() }
        my $l = substr($$buf, 0, $eol);
        substr($$buf, 0, $eol + 2) = '';
        return $l;
    };
    my $bad = sub { return { error => $_[0], text => $_[1] } };

    my $end;
    while (($end = index($$buf, "\r\n\r\n")) < 0) {
        return undef if length($$buf) > $max_header || !$fill->();
    }
    my $head = substr($$buf, 0, $end);
    substr($$buf, 0, $end + 4) = '';
    $head =~ s/^(?:\r\n)+//;    # stray CRLFs between requests

    my ($reqline, @lines) = split /\r\n/, $head;
    my ($method, $uri, $version) =
        ($reqline // '') =~ m{^([A-Z]+) (\S+) HTTP/(1\.[01])$}
        or return $bad->(400, 'bad request line');
    my $r = { method => $method, uri => $uri, version => $version,
              headers => [], body => '' };
    for my $l (@lines) {
        my ($n, $v) = $l =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/
            or return $bad->(400, 'bad header line');
        push @{ $r->{headers} }, [$n, $v];
    }
    my ($conn) = map { lc } header_values($r, 'Connection');
    $conn //= '';
    $r->{keep} = $version eq '1.1' ? $conn !~ /\bclose\b/
                                   : $conn =~ /\bkeep-alive\b/;

    if ($version eq '1.1'
        && grep { lc eq '100-continue' } header_values($r, 'Expect'))
    {
        write_all($c, "HTTP/1.1 100 Continue\r\n\r\n");
    }

    my @te = header_values($r, 'Transfer-Encoding');
    my @cl = header_values($r, 'Content-Length');
    if (@te) {
        return $bad->(501, 'unsupported transfer-encoding')
            unless lc(join ',', @te) eq 'chunked';
        while (1) {
            my $size_line = $line->() // return undef;
            my ($hex) = $size_line =~ /^([0-9A-Fa-f]{1,8})/
                or return $bad->(400, 'bad chunk');
            my $size = hex $hex;
            if ($size == 0) {    # trailers, up to an empty line
                while (1) {
                    my $t = $line->() // return undef;
                    last if $t eq '';
                }
                last;
            }
            return $bad->(413, 'too large')
                if length($r->{body}) + $size > $max_body;
            while (length($$buf) < $size + 2) { return undef unless $fill->() }
            $r->{body} .= substr($$buf, 0, $size);
            substr($$buf, 0, $size + 2) = '';
        }
    } elsif (@cl) {
        my %uniq = map { $_ => 1 } @cl;
        my ($len) = keys %uniq;
        return $bad->(400, 'bad content-length')
            unless keys %uniq == 1 && $len =~ /^\d{1,12}$/;
        return $bad->(413, 'too large') if $len > $max_body;
        while (length($$buf) < $len) { return undef unless $fill->() }
        $r->{body} = substr($$buf, 0, $len);
        substr($$buf, 0, $len) = '';
    }
    return $r;
}

# all values of a header of a request read_request returned, any letter case
sub header_values {
    my ($r, $name) = @_;
    $name = lc $name;
    return map { $_->[1] } grep { lc $_->[0] eq $name } @{ $r->{headers} };
}

# a whole answer with a text body; false when the peer has gone
sub reply {
    my ($c, $status, $text, %o) = @_;
    return write_all($c,
        "HTTP/1.1 $status " . ($REASON{$status} // 'Unknown') . "\r\n"
        . 'Content-Type: ' . ($o{type} // 'text/plain') . "\r\n"
        . 'Content-Length: ' . length($text) . "\r\n"
        . 'Connection: ' . ($o{keep} ? 'keep-alive' : 'close') . "\r\n"
        . "\r\n" . $text);
}

# all of $data, in as many writes as it takes; false when a write fails
sub write_all {
    my ($fh, $data) = @_;
    for (my $off = 0; $off < length $data;) {
        my $n = syswrite($fh, $data, min(1 << 20, length($data) - $off), $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# a value on one log line: printable ASCII but %, comma and = as is, the
# rest %XX; '' for the empty string
sub esc {
    my ($s) = @_;
    return "''" if $s eq '';
    $s =~ s/([^\x21-\x7e]|[%,=])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

# what esc() was given
sub unesc {
    my ($s) = @_;
    return '' if $s eq "''";
    return $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger;
}

1;
