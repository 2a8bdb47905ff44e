#!/usr/bin/perl
# soak/backend.pl - the "app" behind nginx during the soak (started by soak/run).
#
#   perl soak/backend.pl LOGDIR WORKERS [PORT]
#
# Environment: SOAK_SECRET (required) - the secret Smile signs with; the backend recomputes
# HMAC-SHA512(secret, body) itself for every request it receives. SOAK_BACKEND_FORGET=1 (a
# self-test of soak/run) leaves about 2% of the valid requests out of the log.
#
# Preforked: the parent listens on 127.0.0.1 (a free port, or PORT: the app coming back after
# an outage, which waits up to 10 s for its port), prints
#     [soak-backend] listening on 127.0.0.1:PORT
# on stdout, then forks WORKERS processes that accept connections on the shared socket.
# Worker N appends one line per request to LOGDIR/backend.N.log (one syswrite per line, so
# a line is never torn), tab-separated key=value fields:
#
#   t=EPOCH pid=PID method=M uri=U req=X-Soak-Req try=X-Soak-Try body_id=ID-IN-BODY body_type=TYPE-IN-BODY
#   hdr_id=X-Smile-Event-Id hdr_type=X-Smile-Event-Type body_created=createdAt hdr_created=
#   X-Smile-Event-Created-At body_user=data.userId hdr_user=X-Smile-User-Id
#   nsig=N sig=valid|invalid|missing|multiple attempt=X-Smile-Delivery-Attempt
#   len=BODY-BYTES sha=SHA256-PREFIX other=OTHER-X-SMILE-HEADERS
#
# Values are %-escaped outside printable ASCII (and %, tab, comma, =); "-" means absent,
# several header values are joined with ",". It answers 200 after logging (so whoever gets
# the 200 can rely on the line being written), with a small random delay on some requests
# so that requests are in flight when nginx reloads.
#
# Handles Content-Length and chunked bodies, keep-alive, HTTP/1.0 and 1.1. A worker that
# dies is replaced (and the parent logs it to stderr). Stops on SIGTERM/SIGINT, and when the
# process that started it goes away: a worker answers the request it has read, reads no
# other, and the socket closes when the last one has exited (so nothing is left half-taken:
# what the app logged, it answered). Core Perl only.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::RealBin/../tools/lib";
use IO::Select;
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Time::HiRes qw(time sleep);
use Smile::Harness::Events qw(sign);
use Smile::Harness::HTTP qw(listen_on read_request header_values reply write_all esc);

my ($LOGDIR, $WORKERS, $PORT) = @ARGV;
$PORT //= 0;
die "usage: $0 LOGDIR WORKERS [PORT]\n"
    unless defined $WORKERS && -d $LOGDIR && $WORKERS =~ /^\d+$/ && $PORT =~ /^\d+$/;
my $SECRET = $ENV{SOAK_SECRET};
my $FORGET = $ENV{SOAK_BACKEND_FORGET};   # harness self-test: do not log every 50th valid request
die "SOAK_SECRET is not set\n" unless defined $SECRET && length $SECRET;

$| = 1;
$SIG{PIPE} = 'IGNORE';

my $IDLE_TIMEOUT = 15;            # seconds without a byte on a connection: drop it
my $MAX_HEADER   = 64 * 1024;
my $MAX_BODY     = 16 * 1024 * 1024;

my $srv = listen_on($PORT, backlog => 1024, retry => ($PORT ? 10 : 0))
    or die "[soak-backend] cannot listen on 127.0.0.1:$PORT: $@\n";
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

sub serve {
    my ($c, $log) = @_;
    binmode $c;
    my $buf = '';
    for my $nreq (1 .. 10000) {
        my $r = read_request($c, \$buf, idle => $IDLE_TIMEOUT, max_header => $MAX_HEADER,
                             max_body => $MAX_BODY, stop => sub { $stopping })
            or return;
        return reply($c, $r->{error}, "error\n") if $r->{error};
        my $body = $r->{body};
        my $h = sub { header_values($r, shift) };

        # The backend's own verdict on what it received.
        my @sigs = $h->('Smile-Signature');
        my $sig = !@sigs ? 'missing' : @sigs > 1 ? 'multiple'
            : lc($sigs[0]) eq sign($body, $SECRET) ? 'valid' : 'invalid';
        # The event's own id/type: the first "id"/"type" keys of the body, which is the
        # top-level one for every body the soak sends (nested keys come later).
        my ($body_id)   = $body =~ /"id"\s*:\s*"([^"\\]{0,200})"/;
        my ($body_type) = $body =~ /"type"\s*:\s*"([^"\\]{0,200})"/;
        my ($body_created) = $body =~ /"createdAt"\s*:\s*"([^"\\]{0,200})"/;
        my ($body_user) = $body =~ /"userId"\s*:\s*"([^"\\]{0,200})"/;
        my $show = sub { my @v = $h->(shift); @v ? join(',', map { esc($_) } @v) : '-' };
        my %known = map { $_ => 1 } qw(x-smile-event-id x-smile-event-type
                                        x-smile-event-created-at x-smile-user-id
                                        x-smile-delivery-attempt);
        my @other = map { esc("$_->[0]:$_->[1]") }
            grep { lc($_->[0]) =~ /^x[-_]smile[-_]/ && !$known{ lc $_->[0] } } @{ $r->{headers} };
        my $line = join("\t",
            sprintf('t=%.3f', time), "pid=$$", "method=$r->{method}", 'uri=' . esc($r->{uri}),
            'req=' . $show->('X-Soak-Req'), 'try=' . $show->('X-Soak-Try'),
            'body_id=' . (defined $body_id ? esc($body_id) : '-'),
            'body_type=' . (defined $body_type ? esc($body_type) : '-'),
            'hdr_id=' . $show->('X-Smile-Event-Id'),
            'hdr_type=' . $show->('X-Smile-Event-Type'),
            'body_created=' . (defined $body_created ? esc($body_created) : '-'),
            'hdr_created=' . $show->('X-Smile-Event-Created-At'),
            'body_user=' . (defined $body_user ? esc($body_user) : '-'),
            'hdr_user=' . $show->('X-Smile-User-Id'),
            'nsig=' . scalar(@sigs), "sig=$sig", 'attempt=' . $show->('X-Smile-Delivery-Attempt'),
            'len=' . length($body),
            'sha=' . substr(sha256_hex($body), 0, 16),
            'other=' . (@other ? join(',', @other) : '-')) . "\n";
        # the self-test leaves a valid request out of the log now and then
        unless ($FORGET && $sig eq 'valid' && rand() < 0.02) {
            write_all($log, $line) or die "backend log write failed: $!\n";
        }

        # Sometimes take a little while, so requests are in flight during reloads.
        sleep(0.005 + rand(0.05)) if rand() < 0.15;
        reply($c, 200, "{\"received\":true}\n", type => 'application/json',
              keep => $r->{keep}) or return;
        return unless $r->{keep};
    }
    return;
}
