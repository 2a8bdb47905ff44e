# smile-webhook verify: every result the module gives on a body, the fields
# it prints, secret rotation, the policy options and exit codes.  The
# expected signatures come from Digest::SHA, not from the command.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use POSIX qw(strftime);
use Test::More;

my $dir = tmpdir();
my $sf = secret_file();

sub verify {
    my ($body, @args) = @_;
    my ($rc, $out, $err) = cli({ stdin => $body }, 'verify',
                               '--secret-file', $sf, @args);
    my ($result) = split /\n/, $out;
    return ($rc, $result // '', $out, $err);
}

# every example event: ok, with the fields the module's variables hold
for my $e (events()) {
    my ($name, $type, $body) = @$e;
    my $sig = hmac($body);
    my ($rc, $result, $out, $err) = verify($body, '--signature', $sig);
    is($rc, 0, "$name: exit 0");
    is($result, 'ok', "$name: ok");
    like($out, qr/^type: \Q$type\E$/m, "$name: type");
    my ($id) = $body =~ /\A\{\s*"id":\s*"([^"]+)"/;
    like($out, qr/^id: \Q$id\E$/m, "$name: the top-level id");
    like($out, qr/^createdAt: 2021-04-14T09:30:24Z$/m, "$name: createdAt");
    if ($body =~ /"userId":\s*"([^"]+)"/) {
        like($out, qr/^userId: \Q$1\E$/m, "$name: userId");
    }
    like($out, qr/^key: line1$/m, "$name: key as \$smile_webhook_key");
    is($err, '', "$name: nothing on stderr");
    unlike($out, qr/\Q$sig\E/, "$name: the signature is not printed");
}

my $body = event_body('01_user_created.json');
my $sig = hmac($body);

# exactly the fields of the first example, in order
{
    my ($rc, $result, $out) = verify($body, '--signature', $sig);
    is($out, <<'_EOT_', 'ok: the whole output');
ok
id: et-123abc456def789abc123def456abc78
type: USER_CREATED
version: 1
createdAt: 2021-04-14T09:30:24Z
userId: tenantId-123abc456def789abc123def456abc78
key: line1
_EOT_
}

# the signature header
{
    my ($rc, $result, $out) = verify($body);
    is($result, 'missing_signature', 'no --signature: missing_signature');
    is($rc, 1, 'missing_signature: exit 1');
    is($out, "missing_signature\nreason: no signature header\n",
       'missing_signature: result and reason, no fields');

    for my $bad ('', 'abc', substr($sig, 1), "${sig}0", 'g' . substr($sig, 1),
                 substr($sig, 0, 64) . ' ' . substr($sig, 65)) {
        ($rc, $result) = verify($body, '--signature', $bad);
        is($result, 'malformed_signature',
           'malformed_signature: "' . substr($bad, 0, 12) . '..." ('
           . length($bad) . ' chars)');
        is($rc, 1, 'malformed_signature: exit 1');
    }

    ($rc, $result) = verify($body, '--signature', $sig, '--signature', $sig);
    is($result, 'malformed_signature', 'a repeated header is malformed');

    ($rc, $result) = verify($body, '--signature', uc $sig);
    is($result, 'ok', 'upper-case hex is accepted, as by the module');

    ($rc, $result) = verify($body, "--signature=  $sig  ");
    is($result, 'ok', 'spaces around the value are dropped, as by nginx');

    ($rc, $result) = verify($body, "--signature=$sig\t");
    is($result, 'malformed_signature', 'a tab is kept, as by nginx');
}

# bad_signature: wrong secret, tampered body, and no fields printed
{
    my $wrong = hmac($body, 'not the secret');
    my ($rc, $result, $out) = verify($body, '--signature', $wrong);
    is($result, 'bad_signature', 'another secret: bad_signature');
    is($rc, 1, 'bad_signature: exit 1');
    is($out, "bad_signature\nreason: no configured secret matches the "
             . "signature\n", 'bad_signature: no fields of an unverified body');

    (my $tampered = $body) =~ s/USER_CREATED/USER_CREATEX/;
    ($rc, $result) = verify($tampered, '--signature', $sig);
    is($result, 'bad_signature', 'a tampered body: bad_signature');

    ($rc, $result) = verify("$body\n", '--signature', $sig);
    is($result, 'bad_signature', 'one more newline: bad_signature');

    ($rc, $result, $out) = verify('not json', '--signature',
                                  hmac('not json', 'x'));
    is($result, 'bad_signature',
       'a forged malformed body is bad_signature, not malformed_event');
    unlike($out, qr/\Q${\ hmac('not json')}\E/,
           'the expected signature is never printed');
}

# malformed_event, for authentic bodies
my @malformed = (
    [ '', 'empty body' ],
    [ 'not json', 'not JSON' ],
    [ '[]', 'an array' ],
    [ '{"type":"USER_CREATED"}', 'no id' ],
    [ '{"id":"e1"}', 'no type' ],
    [ '{"id":"e1","type":"user created"}', 'type outside the pattern' ],
    [ '{"id":"e 1","type":"USER_CREATED"}', 'id outside the pattern' ],
    [ '{"id":"e1","type":"USER_CREATED"', 'truncated' ],
    [ '{"id":"e1","type":"USER_CREATED"} x', 'trailing bytes' ],
    [ qq({"id":"e1","type":"USER_CREATED","x":"\xff"}), 'invalid UTF-8' ],
    [ '{"id":"' . ('a' x 129) . '","type":"USER_CREATED"}', 'id too long' ],
);
for my $m (@malformed) {
    my ($b, $what) = @$m;
    my ($rc, $result, $out) = verify($b, '--signature', hmac($b));
    is($result, 'malformed_event', "malformed_event: $what");
    is($rc, 1, "malformed_event: $what: exit 1");
    like($out, qr/^reason: \S/m, "malformed_event: $what: a reason");
    like($out, qr/^key: line1$/m, "malformed_event: $what: the key matched");
}

# escapes decode as the module decodes them
{
    my $b = '{"id":"\u0065\u0031","type":"USER_\u0043REATED"}';
    my ($rc, $result, $out) = verify($b, '--signature', hmac($b));
    is($result, 'ok', 'escaped id and type: ok');
    like($out, qr/^id: e1$/m, 'escaped id decoded');
    like($out, qr/^type: USER_CREATED$/m, 'escaped type decoded');
}

# several secrets (rotation): each is tried, the key names the line
{
    my $f = secret_file("# new first\nnew secret\n\n$SECRET\n");
    forbid('new secret');
    my ($rc, $out) = cli({ stdin => $body }, 'verify', '--secret-file', $f,
                         '--signature', $sig);
    is($rc, 0, 'rotation: the old secret still verifies');
    like($out, qr/^key: line4$/m, 'rotation: key names the 4th line');

    ($rc, $out) = cli({ stdin => $body }, 'verify', '--secret-file', $f,
                      '--signature', hmac($body, 'new secret'));
    like($out, qr/^key: line2$/m, 'rotation: the new secret, line 2');

    ($rc, $out) = cli({ stdin => $body,
                        env => { SMILE_WEBHOOK_SECRET => $SECRET } },
                      'verify', '--signature', $sig);
    like($out, qr/\Aok\n.*^key: secret1$/ms,
         'SMILE_WEBHOOK_SECRET: key secret1');
}

# the type filter (ignored) runs before the age (stale)
{
    my ($rc, $result, $out) = verify($body, '--signature', $sig,
                                     '--events', 'ACCOUNT_CREATED');
    is($result, 'ignored', '--events without the type: ignored');
    is($rc, 1, 'ignored: exit 1');
    like($out, qr/^reason: event type is not in smile_webhook_events$/m,
         'ignored: reason');
    like($out, qr/^id: et-/m, 'ignored: fields of the authentic event');

    ($rc, $result) = verify($body, '--signature', $sig, '--events',
                            'ACCOUNT_CREATED,USER_CREATED');
    is($result, 'ok', '--events with a list holding the type: ok');

    ($rc, $result) = verify($body, '--signature', $sig, '--events',
                            'ACCOUNT_CREATED', '--events', 'user_created');
    is($result, 'ok', '--events repeated, any case: ok');

    ($rc, $result) = verify($body, '--signature', $sig, '--events',
                            'ACCOUNT_CREATED', '--max-age', '5m');
    is($result, 'ignored', 'ignored comes before stale');
}

# the age of createdAt (2021-04-14T09:30:24Z is 1618392624)
{
    my $t = 1618392624;
    my @cases = (
        [ [ '--max-age', '5m' ], 'stale', 'now, 2021 is stale' ],
        [ [ '--max-age', '5m', '--now', '2021-04-14T09:35:24Z' ], 'ok',
          'exactly max_age old: ok' ],
        [ [ '--max-age', '5m', '--now', '@' . ($t + 301) ], 'stale',
          'one second older: stale' ],
        [ [ '--max-age', '300', '--now', '@' . ($t - 60) ], 'ok',
          '60s ahead, default skew: ok' ],
        [ [ '--max-age', '300', '--now', '@' . ($t - 61) ], 'stale',
          '61s ahead: stale' ],
        [ [ '--max-age', '1h', '--skew', '2m', '--now', '@' . ($t - 120) ],
          'ok', '--skew 2m' ],
        [ [ '--max-age', '1h', '--skew', '0', '--now', '@' . ($t - 1) ],
          'stale', '--skew 0' ],
        [ [ '--max-age', '1h30m', '--now', '2021-04-14T11:00:24Z' ], 'ok',
          '1h30m' ],
        [ [ '--max-age', '2d', '--now', '2021-04-16T09:30:25Z' ], 'stale',
          '2d and a second' ],
        [ [ '--max-age', 'off' ], 'ok', '--max-age off' ],
        [ [ '--max-age', '5m', '--now', '2021-04-14T17:32:00+08:00' ], 'ok',
          '--now with an offset' ],
    );
    for my $c (@cases) {
        my ($args, $want, $what) = @$c;
        my ($rc, $result, $out) = verify($body, '--signature', $sig, @$args);
        is($result, $want, "max_age: $what");
        is($rc, $want eq 'ok' ? 0 : 1, "max_age: $what: exit code");
    }

    my ($rc, $result, $out) = verify($body, '--signature', $sig,
                                     '--max-age', '5m');
    like($out, qr/^reason: createdAt is older than smile_webhook_max_age$/m,
         'stale: reason');

    my $now = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime);
    (my $b = $body) =~ s/2021-04-14T09:30:24Z/$now/;
    ($rc, $result) = verify($b, '--signature', hmac($b), '--max-age', '5m');
    is($result, 'ok', 'a createdAt of now is ok against the clock');

    $b = '{"id":"e1","type":"USER_CREATED"}';
    ($rc, $result, $out) = verify($b, '--signature', hmac($b),
                                  '--max-age', '5m');
    is($result, 'malformed_event', 'no createdAt with --max-age');
    like($out, qr/^reason: createdAt is missing/m, 'its reason');

    $b = '{"id":"e1","type":"USER_CREATED","createdAt":"yesterday"}';
    ($rc, $result) = verify($b, '--signature', hmac($b));
    is($result, 'ok', 'createdAt is not judged without --max-age');
    ($rc, $result) = verify($b, '--signature', hmac($b), '--max-age', '1d');
    is($result, 'malformed_event', 'an unparsable createdAt with --max-age');
}

# the body from a file, and errors
{
    my $f = write_file("$dir/body.json", $body);
    my ($rc, $out) = cli('verify', '--secret-file', $sf, '--signature', $sig,
                         $f);
    is($rc, 0, 'a body FILE: exit 0');
    like($out, qr/\Aok\n/, 'a body FILE: ok');

    my $err;
    ($rc, $out, $err) = cli('verify', '--secret-file', $sf, '--signature',
                            $sig, "$dir/none");
    is($rc, 3, 'unreadable body: exit 3');
    is($out, '', 'unreadable body: no result printed');

    ($rc, $out, $err) = cli({ stdin => $body, setsid => 1 }, 'verify',
                            '--signature', $sig);
    is($rc, 4, 'verify without a secret: exit 4');

    for my $bad ([ '--max-age', 'soon' ], [ '--max-age', '5x' ],
                 [ '--skew', '1m' ], [ '--now', '@1' ],
                 [ '--max-age', '1m', '--now', 'tomorrow' ],
                 [ '--events', 'user created' ], [ '--events', '' ]) {
        ($rc, $out, $err) = cli({ stdin => $body }, 'verify',
                                '--secret-file', $sf, '--signature', $sig,
                                @$bad);
        is($rc, 2, "usage error: @$bad");
        like($err, qr/Usage: smile-webhook verify/, "@$bad: the usage");
    }
}

done_testing();
