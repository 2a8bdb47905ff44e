#!/usr/bin/perl
# demo/backend.pl - a tiny HTTP/1.1 server standing in for "your app" behind nginx.
#
# Usage: perl demo/backend.pl [PORT]      (PORT 0 or omitted: pick a free port; a given
#                                        port is waited for up to 10 s if it is taken)
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
# header that reaches the backend is listed as other=Name:value, except
# X-Smile-Delivery-Attempt (the module adds it to a replay of a spooled event), which
# prints as attempt=N after user_id. Values are %-escaped
# outside printable ASCII, so each request is exactly one line. It answers 200, or the
# status in an X-Demo-Status header (demo/run sends "X-Demo-Status: 503" to play an app
# that fails one delivery); the line then ends with status=NNN. "X-Demo-Hold: SECONDS" (at
# most 10) holds the answer that long after the line is written: an app still busy with a
# delivery when another one comes (the two-node tests and scene).
#
# Handles Content-Length and chunked bodies, "Expect: 100-continue", HTTP/1.0 and
# HTTP/1.1, keep-alive and "Connection: close". One forked child per connection.
# Stops on SIGTERM/SIGINT (and when the process that started it goes away).
# Core Perl only.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::RealBin/../tools/lib";
use IO::Select;
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Smile::Harness::HTTP qw(listen_on read_request header_values reply esc);

my $port = shift // 0;
die "usage: $0 [PORT]\n" unless $port =~ /^\d+$/;

$| = 1;
my $IDLE_TIMEOUT = 5;     # seconds to wait for the next bytes on a connection
my $MAX_HEADER   = 64 * 1024;
my $MAX_BODY     = 64 * 1024 * 1024;

# a given port is the app coming back after an outage: it may still be
# held for a moment, so try again for up to 10 s
my $srv = listen_on($port, retry => ($port ? 10 : 0))
    or die "[backend] cannot listen on 127.0.0.1:$port: $@\n";

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
    while (my $r = read_request($c, \$buf, idle => $IDLE_TIMEOUT,
                                max_header => $MAX_HEADER, max_body => $MAX_BODY))
    {
        return reply($c, $r->{error}, "$r->{text}\n") if $r->{error};

        # one line, written before answering, so whoever gets our answer can
        # already find the line
        my $show = sub {
            my @v = header_values($r, shift);
            return '-' unless @v;
            return join ',', map { esc($_) } @v;
        };
        my %known = map { $_ => 1 }
            qw(x-smile-event-type x-smile-event-id x-smile-event-created-at x-smile-user-id
               x-smile-delivery-attempt);
        my @other = map { esc("$_->[0]:$_->[1]") }
            grep { lc($_->[0]) =~ /^x-smile-/ && !$known{ lc $_->[0] } } @{ $r->{headers} };
        my $case = $show->('X-Demo-Case');
        my ($status) = grep { /^[2-5]\d\d$/ } header_values($r, 'X-Demo-Status');
        my $attempt = $show->('X-Smile-Delivery-Attempt');
        my $line = sprintf "[backend] #%s %s %s type=%s id=%s created_at=%s user_id=%s%s%s body=%d sha256=%s%s\n",
            $case, $r->{method}, esc($r->{uri}),
            $show->('X-Smile-Event-Type'), $show->('X-Smile-Event-Id'),
            $show->('X-Smile-Event-Created-At'), $show->('X-Smile-User-Id'),
            ($attempt ne '-' ? " attempt=$attempt" : ''),
            (@other ? ' other=' . join(',', @other) : ''),
            length($r->{body}), sha256_hex($r->{body}),
            ($status ? " status=$status" : '');
        syswrite STDOUT, $line;

        my ($hold) = grep { /^\d+(?:\.\d+)?$/ && $_ <= 10 } header_values($r, 'X-Demo-Hold');
        select(undef, undef, undef, $hold) if $hold;

        my $type = join ',', header_values($r, 'X-Smile-Event-Type');
        $type = $type eq '' ? 'a request' : $type;
        if ($status && $status != 200) {
            reply($c, $status, "sorry, cannot take $type right now\n", keep => $r->{keep});
        } else {
            reply($c, 200, "thanks, got $type\n", keep => $r->{keep});
        }
        return unless $r->{keep};
    }
    return;
}
