# smile-webhook spool against a real nginx with the module and its
# replayer (master_process on): an event sent while the app is down is
# spooled (202), "spool list" and "spool show" see it as nginx wrote it,
# the replayer delivers it once the app is up; a dead event (keep=2s) is
# delivered after "spool requeue" (not after a plain move back); a live
# one waiting for its back-off is delivered at once after "requeue"; a
# purged one never is.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $sf = secret_file();
my ($app, $port) = (free_port(), free_port());

my $nginx = start_nginx(<<"_EOC_");
    server {
        listen 127.0.0.1:$port;
        add_header X-Smile-Webhook-Result \$smile_webhook_result always;
        smile_webhook_secret_file $sf;
        smile_webhook_allow 127.0.0.1;

        location = /hook {
            smile_webhook on;
            smile_webhook_spool \@PREFIX\@/spool retry=1s keep=1h;
            proxy_pass http://127.0.0.1:$app;
        }

        location = /dies {
            smile_webhook on;
            smile_webhook_spool \@PREFIX\@/dies retry=1s keep=2s;
            proxy_pass http://127.0.0.1:$app;
        }
    }
_EOC_

my $prefix = $nginx->{prefix};
my $spool = "$prefix/spool";
my $dies = "$prefix/dies";
my $base = "http://127.0.0.1:$port";

# the app: a listener on $app that answers 200 and keeps each request
my $reqdir = tmpdir();
my $app_pid;

sub start_app {
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => $app, Listen => 16,
                                    ReuseAddr => 1)
        or die "app: $!\n";
    $app_pid = fork // die "fork: $!\n";
    if ($app_pid == 0) {
        my $n = 0;
        while (my $c = $srv->accept) {
            my $req = '';
            while (index($req, "\r\n\r\n") < 0) {
                sysread($c, $req, 65536, length $req) or last;
            }
            my ($len) = $req =~ /^Content-Length:\s*(\d+)/mi;
            my $head = index($req, "\r\n\r\n") + 4;
            while (defined $len && length($req) - $head < $len) {
                sysread($c, $req, 65536, length $req) or last;
            }
            $n++;
            write_file("$reqdir/.tmp", $req);
            rename "$reqdir/.tmp", sprintf("$reqdir/req-%d-%03d", $$, $n);
            syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                         . "Connection: close\r\n\r\nok\n");
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
}

sub stop_app {
    return unless $app_pid;
    kill 'KILL', $app_pid;
    waitpid($app_pid, 0);
    $app_pid = undef;
}

END { stop_app() }

# the requests the app got: { id, attempt, signature, body }
sub app_got {
    my @r;
    opendir my $dh, $reqdir or die;
    for my $f (sort grep { /^req-/ } readdir $dh) {
        my $req = read_file("$reqdir/$f");
        my ($head, $body) = split /\r\n\r\n/, $req, 2;
        my %q;
        for (split /\r\n/, $head) {
            $q{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
        }
        push @r, { id => $q{'x-smile-event-id'},
                   attempt => $q{'x-smile-delivery-attempt'},
                   signature => $q{'smile-signature'}, body => $body };
    }
    return @r;
}

sub wait_for {
    my ($what, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $r = $what->();
        return $r if $r;
        sleep 0.1;
    }
    return undef;
}

sub delivered {
    my ($id) = @_;
    my @got = grep { ($_->{id} // '') eq $id } app_got();
    return $got[0];
}

# the record of an id in a directory: its name, or undef
sub record_of {
    my ($dir, $id) = @_;
    opendir my $dh, $dir or return undef;
    my @n = grep { /^ev-\d+-\d+-\Q$id\E$/ } readdir $dh;
    return $n[0];
}

sub send_event {
    my ($uri) = @_;
    my ($rc, $out, $err) = cli('send', "$base$uri", '--type', 'USER_CREATED',
                               '--fresh', '--secret-file', $sf);
    my ($status, $result, $id) =
        $out =~ /^(\d+) (\S+) +USER_CREATED +(\S+)$/m;
    return ($rc, $status // '', $result // '', $id // '', $err);
}

# 1. the app is down: the event is spooled, as nginx writes records
my ($rc, $status, $result, $id1, $err) = send_event('/hook');
is($rc, 0, 'send while the app is down: exit 0');
is("$status $result", '202 spooled', 'send: 202 spooled');

my ($text, $name);
for (1 .. 50) {
    $name = record_of($spool, $id1) // next;
    $text = read_file("$spool/$name") // next;
    last;
} continue {
    sleep 0.05;
}
ok(defined $text, 'the record is in the spool');
$text //= '';
my ($received, $attempts) = ($name // '') =~ /^ev-(\d+)-(\d+)-/;
my ($head, $body) = split /\n\n/, $text, 2;
$body //= '';
forbid($body, hmac($body));

# the record is what spool_record() writes for the same values, so the
# unit tests' hand-made records are the module's
{
    my @headers = map { /^header: ([^:]+): (.*)$/ ? [ $1, $2 ] : () }
                  split /\n/, $head;
    my ($created_at) = $body =~ /"createdAt":\s*"([^"]+)"/;
    my ($user_id) = $body =~ /"userId":\s*"([^"]+)"/;
    my $scratch = tmpdir();
    my $made = spool_record($scratch, id => $id1, received => $received,
                            attempts => $attempts, body => $body,
                            headers => \@headers, host => "127.0.0.1:$port",
                            uri => '/hook', socket => "$spool/replay.sock",
                            created_at => $created_at, user_id => $user_id);
    is(read_file($made), $text,
       "nginx's record is byte for byte the tests' format");
    ok((grep { $_->[0] eq 'Smile-Signature' && $_->[1] eq hmac($body) }
        @headers), 'the record has the signature');
}

# 2. list and show see it; no body, no signature
($rc, my $out, $err) = cli('spool', 'list', $spool);
is($rc, 0, 'list: exit 0');
is($err, '', 'list: nothing on stderr');
like($out, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +\d+ +\d+s +\d+ +spool +\Q$id1\E +USER_CREATED$/m,
     'list: the spooled event');
like($out, qr/^1 event, \d+ bytes in \Q$spool\E; the oldest/m,
     'list: one event');
like($out, qr/^replayer: running \(a process holds \Q$spool\E\/\.lock\)$/m,
     "list: nginx's replayer holds the lock");

($rc, $out, $err) = cli('spool', 'show', $spool, $id1);
is($rc, 0, 'show: exit 0');
like($out, qr/^state: spool \(to be delivered\)$/m, 'show: state');
like($out, qr/^socket: \Q$spool\E\/replay\.sock$/m, 'show: socket');
like($out, qr/^host: 127\.0\.0\.1:$port$/m, 'show: host');
like($out, qr/^uri: \/hook$/m, 'show: uri');
like($out, qr/^id: \Q$id1\E$/m, 'show: id');
like($out, qr/^type: USER_CREATED$/m, 'show: type');
my ($created) = $body =~ /"createdAt":\s*"([^"]+)"/;
like($out, qr/^created-at: \Q$created\E$/m, 'show: created-at');
like($out, qr/^header: Smile-Signature: \[128 bytes, not shown; --signature shows it\]$/m,
     'show: the signature header, without its value');
like($out, qr/^header: Content-Type: application\/json$/m,
     'show: Content-Type');
like($out, qr/^length: ${\ length $body}$/m, 'show: length');
unlike($out, qr/"createdAt"/, 'show: no body');

# 3. an event of a spool with keep=2s goes to dead/
my ($rc2, $status2, $result2, $id2) = send_event('/dies');
is("$status2 $result2", '202 spooled', '/dies: 202 spooled');
my $dead2 = wait_for(sub { record_of("$dies/dead", $id2) }, 15);
ok($dead2, 'after keep, the record is in dead/');
# the replayer renames the record, then logs: wait for the line
ok(wait_for(sub { nginx_log($nginx, 'error.log')
                  =~ /event id "\Q$id2\E" was not delivered in 2 s after \d+ attempts; moved to/ },
            5), 'nginx logged it');
($rc, $out) = cli('spool', 'list', '--dead', $dies);
like($out, qr/ +dead +\Q$id2\E +USER_CREATED$/m, 'list --dead: the dead event');

# 4. the app is back: the replayer delivers the spooled event
start_app();
my $got1 = wait_for(sub { delivered($id1) }, 30);
ok($got1, 'the replayer delivered the spooled event');
$got1 //= {};
is($got1->{body}, $body, 'delivered: the body byte for byte');
is($got1->{signature}, hmac($body), 'delivered: its signature');
ok(($got1->{attempt} // 0) >= 2, 'delivered: X-Smile-Delivery-Attempt >= 2');
ok(wait_for(sub { !record_of($spool, $id1) }, 5), 'delivered: the record is gone');
($rc, $out) = cli('spool', 'list', $spool);
like($out, qr/\Ano events in \Q$spool\E\n/, 'list: no events');

# 5. a dead event: moved back by hand with its old time, the replayer
# finds it past keep and moves it to dead/ again, undelivered; requeue
# gives it a new time and it is delivered
$dead2 = record_of("$dies/dead", $id2);
rename "$dies/dead/$dead2", "$dies/$dead2" or die;
ok(wait_for(sub { record_of("$dies/dead", $id2) }, 10),
   'a plain move back: dead again at the next scan');
ok(!delivered($id2), 'a plain move back: not delivered');

my ($attempts2) = record_of("$dies/dead", $id2) =~ /^ev-\d+-(\d+)-/;
($rc, $out, $err) = cli('spool', 'requeue', $dies, $id2);
is($rc, 0, 'requeue of the dead event: exit 0');
like($out, qr/ -> \Q$dies\E\/ev-\d+-$attempts2-\Q$id2\E: due now/,
     'requeue: moved back under a new time');
my $got2 = wait_for(sub { delivered($id2) }, 10);
ok($got2, 'requeued: delivered');
is($got2 && $got2->{attempt}, $attempts2 + 1,
   'requeued: the next attempt number');
ok(wait_for(sub { !record_of($dies, $id2) && !record_of("$dies/dead", $id2) },
            5), 'requeued: no record left');

# 6. a live event waiting for its back-off: requeue makes it due at once
stop_app();
my ($rc3, $status3, $result3, $id3) = send_event('/hook');
is("$status3 $result3", '202 spooled', 'third event: 202 spooled');
my $four = wait_for(sub { my $n = record_of($spool, $id3);
                          $n && $n =~ /^ev-\d+-4-/ ? $n : undef }, 30);
ok($four, 'three replays failed: 4 attempts, the next in 8 s');
my $failed = (stat "$spool/$four")[9] // 0;
start_app();
($rc, $out, $err) = cli('spool', 'requeue', $spool, $id3);
is($rc, 0, 'requeue of a live event: exit 0');
my $got3 = wait_for(sub { delivered($id3) }, 10);
my $at = time;
ok($got3, 'requeued: delivered');
ok($at - $failed < 6.5,
   sprintf('requeued: delivered %.1f s after the last failure, not after '
           . 'the 8 s back-off', $at - $failed));
is($got3 && $got3->{attempt}, 5, 'requeued: attempt 5');

# 7. purge: the event is lost, never delivered
stop_app();
my ($rc4, $status4, $result4, $id4) = send_event('/hook');
is("$status4 $result4", '202 spooled', 'fourth event: 202 spooled');
($rc, $out, $err) = cli({ setsid => 1 }, 'spool', 'purge', $spool, $id4);
is($rc, 1, 'purge without --yes nor a terminal: exit 1');
ok(record_of($spool, $id4), 'purge not confirmed: the record stays');
($rc, $out, $err) = cli('spool', 'purge', '--yes', $spool, $id4);
is($rc, 0, 'purge --yes: exit 0');
like($out, qr/^deleted \Q$spool\E\/ev-\d+-\d+-\Q$id4\E$/m, 'purge: deleted');
like($err, qr/warning: 1 event of \Q$spool\E was not delivered yet: purged, it is lost/,
     'purge: the warning');
ok(!record_of($spool, $id4), 'purged: the record is gone');

my ($rc5, $status5, $result5, $id5) = send_event('/dies');
ok(wait_for(sub { record_of("$dies/dead", $id5) }, 15), 'a fifth event dead');
($rc, $out, $err) = cli('spool', 'purge', '--yes', $dies, '--all-dead');
is($rc, 0, 'purge --all-dead: exit 0');
like($out, qr/^deleted \Q$dies\E\/dead\/ev-\d+-\d+-\Q$id5\E$/m,
     'purge --all-dead: the dead event');
is($err, '', 'purge of dead events: no warning');

start_app();
sleep 3;
ok(!delivered($id4), 'the purged event is never delivered');
ok(!delivered($id5), 'the purged dead event is never delivered');
is(scalar(grep { ($_->{id} // '') eq $id1 } app_got()), 1,
   'the first event was delivered once');

stop_app();
stop_nginx($nginx);
# (a purge while the replayer was delivering the same record is a notice,
# "was removed during its replay", not an alert)
my @alerts = grep { /\[(?:alert|emerg|crit)\]/ }
             split /\n/, nginx_log($nginx, 'error.log');
is_deeply(\@alerts, [], 'no alert in the error log');

done_testing();
