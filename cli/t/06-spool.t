# smile-webhook spool list, show, requeue and purge on spool directories
# made by hand: records written by spool_record() in the module's format,
# dead ones, writes in progress, foreign files, malformed records, and
# directories the command may not read or change.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use Fcntl qw(:flock);
use POSIX qw(strftime);
use Test::More;

my $MARK = 'body-marker-7f3a';        # in every body: never printed
my $PRIVATE = 'private-value-5c1d';   # a header value not shown by default
my $TIME = qr/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;

forbid($MARK, $PRIVATE, 'sigvalue-e2b4', 'partner-sig-9d0c');

sub rfc3339 { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# a new, empty spool directory (others may enter it: see nobody below)
sub spool {
    my $top = tmpdir();
    chmod 0755, $top;
    mkdir "$top/spool" or die;
    return "$top/spool";
}

# a record whose body carries the marker; its signature is forbidden too
sub record {
    my ($sp, %r) = @_;
    my $type = $r{type} // 'USER_CREATED';
    $r{body} //= qq({"id":"$r{id}","type":"$type","m":"$MARK"});
    forbid(hmac($r{body}));
    return spool_record($sp, %r);
}

sub names { my ($d) = @_; opendir my $dh, $d or return (); sort grep { !/^\./ } readdir $dh }

my $now = time;

# list: an empty spool, then records, dead ones and what is not a record
{
    my $sp = spool();
    my ($rc, $out, $err) = cli('spool', 'list', $sp);
    is($rc, 0, 'list of an empty spool: exit 0');
    is($err, '', 'list of an empty spool: nothing on stderr');
    like($out, qr/\Ano events in \Q$sp\E\n/, 'list: "no events in PATH"');
    like($out, qr/^replayer: none \(no \Q$sp\E\/\.lock/m,
         'list: no .lock, no replayer');

    my $t = int time;
    my %r = (
        'et-old' => [ $t - 7200, 4, 'USER_CREATED' ],
        'et-mid' => [ $t - 600, 2, 'LINK_ADDED' ],
        'et-new' => [ $t - 30, 1, 'ACCOUNT_CREATED' ],
    );
    my %path;
    for my $id (keys %r) {
        $path{$id} = record($sp, id => $id, received => $r{$id}[0],
                            attempts => $r{$id}[1], type => $r{$id}[2]);
    }
    my $dead = record($sp, id => 'et-dead', received => $t - 90000,
                      attempts => 9, dead => 1, type => 'USER_DELETED');
    write_file("$sp/tmp-4242-1-et-writing", "SMILE-SPOOL 1\n");
    write_file("$sp/tmp-4242-2-et-crashed", '');
    write_file("$sp/notes.txt", "mine\n");
    write_file("$sp/ev-x-1-et-bad", "x\n");         # no time
    write_file("$sp/ev-1-0-et-zero", "x\n");        # no attempt
    symlink($path{'et-old'}, "$sp/ev-1-1-et-link") or die;
    mkdir "$sp/subdir";
    write_file("$sp/.lock", '');

    ($rc, $out, $err) = cli('spool', 'list', $sp);
    is($rc, 0, 'list: exit 0');
    is($err, '', 'list: nothing on stderr');
    my @lines = split /\n/, $out;
    my @order = ('et-old', 'et-mid', 'et-new');
    my %age = ('et-old' => qr/2h0[01]m/, 'et-mid' => qr/10m0\ds/,
               'et-new' => qr/3\ds/);
    my $bytes = 0;
    for my $i (0 .. 2) {
        my $id = $order[$i];
        my ($received, $attempts, $type) = @{ $r{$id} };
        my $size = -s $path{$id};
        $bytes += $size;
        like($lines[$i], qr/^\Q${\ rfc3339($received)}\E +$attempts +$age{$id} +$size +spool +\Q$id\E +$type$/,
             "list: $id: time, attempts, age, size, spool, id, type");
    }
    like($lines[3], qr/^3 events, $bytes bytes in \Q$sp\E; the oldest received \Q${\ rfc3339($t - 7200)}\E, 2h0[01]m ago$/,
         'list: the summary: events, bytes, the oldest');
    is($lines[4], "1 dead event in $sp/dead: --dead lists them",
       'list: the dead events are counted, not listed');
    is($lines[5], '2 tmp-* files ignored: a write in progress, or left by '
       . 'a crash (nginx removes those after an hour)',
       'list: tmp-* files are counted and ignored');
    is($lines[6], '5 other files ignored',
       'list: foreign files, bad names, a symlink, a directory: ignored');
    like($lines[7], qr/^replayer: none \(no process holds \Q$sp\E\/\.lock/,
         'list: .lock not held: no replayer');
    is(scalar @lines, 8, 'list: nothing else');

    # a process holding .lock, as nginx's replayer does
    open my $lock, '<', "$sp/.lock" or die;
    flock($lock, LOCK_EX) or die;
    ($rc, $out) = cli('spool', 'list', $sp);
    like($out, qr/^replayer: running \(a process holds \Q$sp\E\/\.lock\)$/m,
         'list: .lock held: a replayer is running');
    close $lock;

    ($rc, $out, $err) = cli('spool', 'list', '--dead', $sp);
    is($rc, 0, 'list --dead: exit 0');
    @lines = split /\n/, $out;
    like($lines[3], qr/^\Q${\ rfc3339($t - 90000)}\E +9 +1d01h +${\ -s $dead} +dead +et-dead +USER_DELETED$/,
         'list --dead: the dead record, marked dead, after the others');
    like($out, qr/^1 dead event, ${\ -s $dead} bytes in \Q$sp\E\/dead$/m,
         'list --dead: the dead summary');
    unlike($out, qr/--dead lists them/, 'list --dead: no hint');
}

# list: errors
{
    my $top = tmpdir();
    my ($rc, $out, $err) = cli('spool', 'list', "$top/none");
    is($rc, 3, 'list of a missing PATH: exit 3');
    like($err, qr/cannot open the spool "\Q$top\E\/none": No such file/,
         'list of a missing PATH: the message');
    is($out, '', 'list of a missing PATH: no output');

    write_file("$top/file", '');
    ($rc, $out, $err) = cli('spool', 'list', "$top/file");
    is($rc, 3, 'list of a file: exit 3');
    like($err, qr/Not a directory/, 'list of a file: the message');

    my $sp = spool();
    chmod 0700, $sp;
    ($rc, $out, $err) = cli({ nobody => 1 }, 'spool', 'list', $sp);
    is($rc, 3, 'list of an unreadable PATH: exit 3');
    like($err, qr/cannot open the spool "\Q$sp\E": Permission denied/,
         'list of an unreadable PATH: the message');
}

# malformed records: each is named and why; list goes on, exit 3
{
    my $sp = spool();
    my $good = record($sp, id => 'et-good', received => $now - 5);
    my $text = read_file($good);
    my %bad = (
        'et-magic' => [ "SMILE-SPOOL 2\n" . substr($text, 14),
                        qr/its first line is not "SMILE-SPOOL 1"/ ],
        'et-cut' => [ substr($text, 0, -5),
                      qr/its body is not "length" bytes long/ ],
        'et-noblank' => [ "SMILE-SPOOL 1\nreceived: 1\n",
                          qr/it ends before the blank line/ ],
        'et-nouri' => [ $text =~ s/^uri: .*\n//mr,
                        qr/a line the replayer needs is missing/ ],
        'et-noline' => [ $text =~ s/^host: .*\n/garbage\n/mr,
                         qr/a line is not "key: value"/ ],
        'et-twice' => [ $text =~ s/^(type: .*\n)/$1$1/mr,
                        qr/a line is repeated/ ],
        'et-number' => [ $text =~ s/^received: .*/received: soon/mr,
                         qr/its "received" is not a number/ ],
        'et-header' => [ $text =~ s/^header: Content-Type: .*/header: X/mr,
                         qr/a "header:" line is not "header: Name: value"/ ],
    );
    for my $id (sort keys %bad) {
        # the id line stays the good one's: only et-idline tests it
        my $raw = $bad{$id}[0] =~ s/^id: et-good$/id: $id/mr;
        write_file("$sp/ev-$now-1-$id", $raw);
    }
    write_file("$sp/ev-$now-1-et-idline", $text);
    $bad{'et-idline'} = [ '', qr/its "id" is not the id in its name/ ];

    my ($rc, $out, $err) = cli('spool', 'list', $sp);
    is($rc, 3, 'list with malformed records: exit 3');
    like($out, qr/ spool +et-good +USER_CREATED$/m,
         'list: the good record is listed');
    for my $id (sort keys %bad) {
        like($out, qr/ spool +\Q$id\E +\?$/m, "list: $id listed, type ?");
        like($err, qr/^smile-webhook: \Q$sp\E\/ev-$now-1-$id: malformed record: $bad{$id}[1]/m,
             "list: $id: named, and why");

        my ($src, $sout, $serr) = cli('spool', 'show', $sp, $id);
        is($src, 3, "show $id: exit 3");
        like($serr, $bad{$id}[1], "show $id: why");
    }
    like($out, qr/^10 events, /m, 'list: malformed records are counted');

    # a line of a later version is no error
    my $later = record($sp, id => 'et-later');
    write_file($later, read_file($later) =~ s/^(length: )/future: yes\n$1/mr);
    ($rc, $out, $err) = cli('spool', 'show', $sp, 'et-later');
    is($rc, 0, 'show: an unknown "key: value" line is accepted');
}

# show: the lines, no body, no signature, only plain header values
{
    my $sp = spool();
    my $body = qq({"id":"et-show","type":"USER_CREATED","m":"$MARK"});
    my $sig = hmac($body);
    my $t = $now - 65;
    my $path = record($sp, id => 'et-show', received => $t, attempts => 3,
                      body => $body, host => 'hooks.example.com:8443',
                      uri => '/smile/webhook?x=1', created_at => '2021-04-14T09:30:24Z',
                      user_id => 'tenantId-123',
                      headers => [ [ 'Smile-Signature', $sig ],
                                   [ 'Content-Type', 'application/json' ],
                                   [ 'User-Agent', 'smile-test/1' ],
                                   [ 'X-Custom', $PRIVATE ],
                                   [ 'X-Sig', 'sigvalue-e2b4' ],
                                   [ 'X-Partner-Signature', 'partner-sig-9d0c' ],
                                   [ 'X-Bin', "caf\xc3\xa9\\" ] ]);
    my $size = -s $path;
    my $expect = <<"_EOT_";
file: $sp/ev-$t-3-et-show
state: spool (to be delivered)
received: ${\ rfc3339($t)} ($t, XAGEX ago)
attempts: 3
size: $size
socket: $sp/replay.sock
host: hooks.example.com:8443
uri: /smile/webhook?x=1
id: et-show
type: USER_CREATED
created-at: 2021-04-14T09:30:24Z
user-id: tenantId-123
header: Smile-Signature: [128 bytes, not shown; --signature shows it]
header: Content-Type: application/json
header: User-Agent: smile-test/1
header: X-Custom: [18 bytes, not shown; --headers shows it]
header: X-Sig: [13 bytes, not shown; --headers shows it]
header: X-Partner-Signature: [16 bytes, not shown; --signature shows it]
header: X-Bin: [6 bytes, not shown; --headers shows it]
length: ${\ length $body}
_EOT_
    my $re = quotemeta($expect) =~ s/XAGEX/1m[0-5]\\ds/r;
    my ($rc, $out, $err) = cli('spool', 'show', $sp, 'et-show');
    is($rc, 0, 'show: exit 0');
    is($err, '', 'show: nothing on stderr');
    like($out, qr/\A$re\z/, 'show: the lines, no body, no signature, no private value');

    # (the age may tick over a second between two calls)
    my $no_age = sub { $_[0] =~ s/^(received: .*\(\d+), [^)]* ago\)$/$1)/mr };
    for my $arg ("ev-$t-3-et-show", $path, "$sp/./ev-$t-3-et-show") {
        my ($arc, $aout) = cli('spool', 'show', $sp, $arg);
        is($no_age->($aout), $no_age->($out), "show by \"$arg\": the same");
    }

    ($rc, $out) = cli({ allow => [ $sig, 'partner-sig-9d0c' ] },
                      'spool', 'show', '--signature', $sp, 'et-show');
    like($out, qr/^header: Smile-Signature: $sig$/m,
         'show --signature: the signature');
    like($out, qr/^header: X-Partner-Signature: partner-sig-9d0c$/m,
         'show --signature: another signature header');
    like($out, qr/^header: X-Custom: \[18 bytes, not shown/m,
         'show --signature: the other values hidden still');

    ($rc, $out) = cli({ allow => [ $PRIVATE, 'sigvalue-e2b4' ] },
                      'spool', 'show', '--headers', $sp, 'et-show');
    like($out, qr/^header: X-Custom: \Q$PRIVATE\E$/m, 'show --headers: a value');
    like($out, qr/^header: X-Bin: caf\\xc3\\xa9\\x5c$/m,
         'show --headers: bytes outside printable ASCII as \xNN');
    like($out, qr/^header: Smile-Signature: \[128 bytes, not shown; --signature/m,
         'show --headers: the signature hidden still');

    ($rc, $out) = cli({ allow => [ $PRIVATE ] }, 'spool', 'show', '--headers',
                      '--signature-header', 'x-sig', $sp, 'et-show');
    like($out, qr/^header: X-Sig: \[13 bytes, not shown; --signature shows it\]$/m,
         'show --signature-header: that header is the signature');

    ($rc, $out) = cli({ allow => [ $MARK ] }, 'spool', 'show', '--body', $sp,
                      'et-show');
    is($rc, 0, 'show --body: exit 0');
    like($out, qr/\nlength: ${\ length $body}\n\n\Q$body\E\z/,
         'show --body: the body after a blank line, byte for byte');

    # the same id in PATH and dead/, requeued once (the name's time differs)
    my $d = record($sp, id => 'et-show', received => $t - 86400, dead => 1,
                   body => $body, line_received => $t - 90000);
    ($rc, $out) = cli('spool', 'show', $sp, 'et-show');
    my @files = $out =~ /^file: (.*)$/mg;
    is_deeply(\@files, [ $path, $d ], 'show ID: each record of the id');
    like($out, qr/^length: \d+\n\nfile: /m, 'show: a blank line between');
    like($out, qr/^state: dead \(not delivered within keep\)\nreceived: \Q${\ rfc3339($t - 90000)}\E \(${\ ($t - 90000)}, 1d01h ago\)\nrequeued: \Q${\ rfc3339($t - 86400)}\E \(1d00h ago; the time in its name, from which keep counts\)$/m,
         'show: the "received" line, and the time of the name when it differs');
    ($rc, $out) = cli('spool', 'show', '--dead', $sp, 'et-show');
    @files = $out =~ /^file: (.*)$/mg;
    is_deeply(\@files, [ $d ], 'show --dead ID: the dead record only');

    # what is not there, or not a record
    ($rc, $out, $err) = cli('spool', 'show', $sp, 'et-none');
    is($rc, 1, 'show of an unknown id: exit 1');
    like($err, qr/no record of event id "et-none" in \Q$sp\E or its dead\//,
         'show of an unknown id: the message');
    ($rc, $out, $err) = cli('spool', 'show', $sp, "ev-1-1-et-none");
    is($rc, 1, 'show of an unknown name: exit 1');
    like($err, qr/no record named "ev-1-1-et-none"/, 'its message');
    ($rc, $out, $err) = cli('spool', 'show', $sp, "$sp/ev-1-1-et-none");
    is($rc, 1, 'show of an unknown FILE: exit 1');
    ($rc, $out, $err) = cli('spool', 'show', $sp, 'et show');
    is($rc, 2, 'show of an invalid id: exit 2');
    like($err, qr/"et show" is neither an event id nor a record's name/,
         'show of an invalid id: the message');
    my $other = spool();
    my $elsewhere = record($other, id => 'et-show');
    ($rc, $out, $err) = cli('spool', 'show', $sp, $elsewhere);
    is($rc, 2, 'show of a FILE of another directory: exit 2');
    like($err, qr/is not in \Q$sp\E or \Q$sp\E\/dead/, 'its message');
    write_file("$sp/tmp-1-1-et-show", '');
    ($rc, $out, $err) = cli('spool', 'show', $sp, "$sp/tmp-1-1-et-show");
    is($rc, 2, 'show of a tmp-* FILE: exit 2');
    like($err, qr/is not a record \(ev-RECEIVED-ATTEMPTS-ID\)/, 'its message');
    ($rc, $out, $err) = cli('spool', 'show', $sp, 'et-none', 'et-show');
    is($rc, 1, 'show of an unknown and a known id: exit 1');
    like($out, qr/^id: et-show$/m, '... the known one is shown');
}

# requeue: a record of PATH gets mtime 0; a dead one comes back renamed
{
    my $sp = spool();
    my $live = record($sp, id => 'et-live', received => $now - 100,
                      attempts => 5, mtime => $now - 10);
    my $content = read_file($live);
    my ($rc, $out, $err) = cli('spool', 'requeue', $sp, 'et-live');
    is($rc, 0, 'requeue of a record of PATH: exit 0');
    is($out, "$live: due now (mtime set to 0); the replayer takes it at "
       . "its next scan\n", 'requeue: what it did');
    is((stat $live)[9], 0, 'requeue: mtime 0');
    is(read_file($live), $content, 'requeue: the record unchanged');

    my $dead = record($sp, id => 'et-dead', received => $now - 90000,
                      attempts => 9, dead => 1, mtime => $now - 3600);
    $content = read_file($dead);
    my $t0 = time;
    ($rc, $out, $err) = cli('spool', 'requeue', $sp, 'et-dead');
    my $t1 = time;
    is($rc, 0, 'requeue of a dead record: exit 0');
    ok(!-e $dead, 'requeue: it left dead/');
    my @back = grep { /^ev-\d+-9-et-dead$/ } names($sp);
    is(scalar @back, 1, 'requeue: it is in PATH, with its attempts');
    my ($when) = ($back[0] // '') =~ /^ev-(\d+)-/;
    ok(defined $when && $when >= int($t0) && $when <= $t1,
       'requeue: its name has a new received time, now');
    is(read_file("$sp/$back[0]"), $content, 'requeue: its content unchanged');
    is((stat "$sp/$back[0]")[9], 0, 'requeue: mtime 0');
    like($out, qr/^\Q$dead\E -> \Q$sp\E\/ev-$when-9-et-dead: due now; its received time restarts at \Q${\ rfc3339($when)}\E, from which keep counts$/,
         'requeue: what it did');
    ($rc, $out) = cli('spool', 'show', $sp, 'et-dead');
    like($out, qr/^received: \Q${\ rfc3339($now - 90000)}\E .*\nrequeued: /m,
         'show after requeue: the original time, and the new one');

    # refused: PATH holds the id; a malformed record; nothing there
    my $again = record($sp, id => 'et-live', received => $now - 90000,
                       dead => 1);
    ($rc, $out, $err) = cli('spool', 'requeue', $sp, "$again");
    is($rc, 1, 'requeue of a dead record whose id PATH holds: exit 1');
    like($err, qr/not requeued: \Q$live\E holds event id "et-live" already/,
         'its message');
    ok(-e $again && -e $live, 'both records stay');

    my $bad = write_file("$sp/ev-$now-1-et-bad", "SMILE-SPOOL 1\n\n");
    utime $now, $now, $bad;
    ($rc, $out, $err) = cli('spool', 'requeue', $sp, 'et-bad');
    is($rc, 3, 'requeue of a malformed record: exit 3');
    like($err, qr/malformed record: .*\n.*ev-$now-1-et-bad: not requeued/,
         'its message');
    is((stat $bad)[9], $now, 'the malformed record keeps its mtime');

    ($rc, $out, $err) = cli('spool', 'requeue', $sp, 'et-none');
    is($rc, 1, 'requeue of an unknown id: exit 1');

    # --dead, --all-dead and --all
    for my $how ([ '--dead' ], [ '--all-dead' ]) {
        my $s = spool();
        my $l = record($s, id => 'et-a', mtime => $now);
        record($s, id => "et-$_", received => $now - 90000 - $_, dead => 1)
            for 1 .. 3;
        ($rc, $out) = cli('spool', 'requeue', $s, @$how);
        is($rc, 0, "requeue @$how: exit 0");
        is_deeply([ names("$s/dead") ], [], "requeue @$how: dead/ is empty");
        is(scalar(grep { /-et-[123]$/ } names($s)), 3,
           "requeue @$how: the three in PATH");
        is((stat $l)[9], $now, "requeue @$how: the live record untouched");
    }
    my $s = spool();
    my $l = record($s, id => 'et-a', mtime => $now);
    record($s, id => 'et-b', received => $now - 90000, dead => 1);
    ($rc, $out) = cli('spool', 'requeue', $s, '--all');
    is($rc, 0, 'requeue --all: exit 0');
    is((stat $l)[9], 0, 'requeue --all: the live record due');
    is(scalar(grep { /-et-b$/ } names($s)), 1,
       'requeue --all: the dead one in PATH');

    # not allowed to change the spool
    $s = spool();
    $l = record($s, id => 'et-a', mtime => $now);
    ($rc, $out, $err) = cli({ nobody => 1 }, 'spool', 'requeue', $s, 'et-a');
    is($rc, 3, 'requeue without the right: exit 3');
    like($err, qr/\Q$l\E: cannot set its mtime: Operation not permitted/,
         'its message');
    is((stat $l)[9], $now, 'its mtime unchanged');
}

# purge: asked first, then deleted; a warning for undelivered events
{
    my $sp = spool();
    my $live = record($sp, id => 'et-live');
    my $dead = record($sp, id => 'et-dead', received => $now - 90000,
                      dead => 1);
    write_file("$sp/tmp-1-1-et-tmp", '');
    write_file("$sp/.lock", '');

    # no terminal to ask on
    my ($rc, $out, $err) = cli({ setsid => 1 }, 'spool', 'purge', $sp,
                               'et-live');
    is($rc, 1, 'purge without --yes nor terminal: exit 1');
    like($err, qr/nothing deleted: no terminal to confirm on; give --yes/,
         'its message');
    is($out, "to delete:\n  $live\n", 'purge: what it would delete');
    ok(-e $live, 'purge: nothing deleted');

    # asked on the terminal: n, then y
    ($rc, $out, $err, my $screen) = cli_pty({ expect => qr/\[y\/N\] \z/,
                                              type => 'n' },
                                            'spool', 'purge', $sp, 'et-live');
    is($rc, 1, 'purge, answered n: exit 1');
    like($screen, qr/Delete 1 record\? \[y\/N\] /, 'purge: the question');
    ok(-e $live, 'purge, answered n: kept');
    ($rc, $out, $err) = cli_pty({ expect => qr/\[y\/N\] \z/, type => 'y' },
                                'spool', 'purge', $sp, 'et-live');
    is($rc, 0, 'purge, answered y: exit 0');
    ok(!-e $live, 'purge, answered y: deleted');
    like($out, qr/^deleted \Q$live\E$/m, 'purge: says what it deleted');
    like($err, qr/warning: 1 event of \Q$sp\E was not delivered yet: purged, it is lost/,
         'purge of a record of PATH: the warning');

    ($rc, $out, $err) = cli('spool', 'purge', '--yes', $sp, 'et-dead');
    is($rc, 0, 'purge --yes of a dead record: exit 0');
    is($out, "deleted $dead\n", 'purge --yes: no question');
    is($err, '', 'purge of a dead record: no warning');
    ok(!-e $dead, 'purge --yes: deleted');

    ($rc, $out, $err) = cli('spool', 'purge', '--yes', $sp, '--all');
    is($rc, 0, 'purge --all of nothing: exit 0');
    is($out, "nothing to purge in $sp\n", 'its message');

    # --all-dead, --dead, --all
    record($sp, id => "et-$_", received => $now - $_) for 1 .. 2;
    record($sp, id => "et-$_", received => $now - 90000, dead => 1) for 3 .. 4;
    ($rc, $out, $err) = cli('spool', 'purge', '--yes', $sp, '--all-dead');
    is($rc, 0, 'purge --all-dead: exit 0');
    is_deeply([ names("$sp/dead") ], [], 'purge --all-dead: dead/ emptied');
    is(scalar(() = $out =~ /^deleted /mg), 2, 'purge --all-dead: two deleted');
    record($sp, id => 'et-5', received => $now - 90000, dead => 1);
    ($rc, $out, $err) = cli('spool', 'purge', '--yes', $sp, '--dead');
    is($rc, 0, 'purge --dead: exit 0');
    like($out, qr/^deleted .*dead\/ev-\d+-1-et-5$/m, 'purge --dead: the dead one');
    record($sp, id => 'et-6', received => $now - 90000, dead => 1);
    ($rc, $out, $err) = cli('spool', 'purge', '--yes', $sp, '--all');
    is($rc, 0, 'purge --all: exit 0');
    is(scalar(() = $out =~ /^deleted /mg), 3, 'purge --all: three deleted');
    like($err, qr/warning: 2 events of \Q$sp\E were not delivered yet: purged, they are lost/,
         'purge --all: the warning');
    is_deeply([ names($sp) ], [ 'dead', 'tmp-1-1-et-tmp' ],
              'purge --all: tmp-* and foreign files stay');
    ok(-e "$sp/.lock", 'purge --all: .lock stays');

    # a malformed record can be purged; one not to be deleted
    my $bad = write_file("$sp/ev-$now-1-et-bad", "junk");
    ($rc, $out) = cli('spool', 'purge', '--yes', $sp, 'et-bad');
    is($rc, 0, 'purge of a malformed record: exit 0');
    ok(!-e $bad, 'purge of a malformed record: deleted');

    my $l = record($sp, id => 'et-kept');
    ($rc, $out, $err) = cli({ nobody => 1 }, 'spool', 'purge', '--yes', $sp,
                            'et-kept');
    is($rc, 3, 'purge without the right: exit 3');
    like($err, qr/\Q$l\E: cannot delete it: Permission denied/, 'its message');
    ok(-e $l, 'kept');
}

# usage
{
    my $sp = spool();
    for my $u ([ [ 'spool' ], 'spool without command' ],
               [ [ 'spool', 'frob', $sp ], 'an unknown spool command' ],
               [ [ 'spool', 'list' ], 'list without PATH' ],
               [ [ 'spool', 'list', $sp, 'x' ], 'list with an ID' ],
               [ [ 'spool', 'list', '--all', $sp ], 'list --all' ],
               [ [ 'spool', 'show', $sp ], 'show without ID' ],
               [ [ 'spool', 'show', '--all', $sp ], 'show --all' ],
               [ [ 'spool', 'requeue', $sp ], 'requeue without ID' ],
               [ [ 'spool', 'requeue', $sp, '--yes', 'x' ], 'requeue --yes' ],
               [ [ 'spool', 'purge', '--yes', $sp ], 'purge without ID' ],
               [ [ 'spool', 'purge', '--yes', $sp, '--all', 'et-1' ],
                 'purge --all and an ID' ],
               [ [ 'spool', 'purge', '--yes', $sp, '--all', '--all-dead' ],
                 'purge --all and --all-dead' ]) {
        my ($args, $what) = @$u;
        my ($rc, $out, $err) = cli(@$args);
        is($rc, 2, "usage: $what: exit 2");
        is($out, '', "usage: $what: nothing on stdout");
        like($err, qr/\Asmile-webhook spool\b.*\nUsage: smile-webhook spool/,
             "usage: $what: a message and the usage");
    }
}

done_testing();
