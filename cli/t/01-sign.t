# smile-webhook sign: known vectors, the three ways to give the secret,
# the secret file format, and the errors with their exit codes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use Test::More;

my $dir = tmpdir();
my $HEX = qr/\A[0-9a-f]{128}\n\z/;

# RFC 4231 HMAC-SHA-512 vectors (test cases 1, 2, 3, 6 and 7)
my @rfc4231 = (
    [ "\x0b" x 20, 'Hi There',
      '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde'
      . 'daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854' ],
    [ 'Jefe', 'what do ya want for nothing?',
      '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554'
      . '9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737' ],
    [ "\xaa" x 20, "\xdd" x 50,
      'fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39'
      . 'bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb' ],
    [ "\xaa" x 131, 'Test Using Larger Than Block-Size Key - Hash Key First',
      '80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352'
      . '6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598' ],
    [ "\xaa" x 131, 'This is a test using a larger than block-size key and '
      . 'a larger than block-size data. The key needs to be hashed before '
      . 'being used by the HMAC algorithm.',
      'e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944'
      . 'b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58' ],
);

for my $i (0 .. $#rfc4231) {
    my ($key, $data, $mac) = @{ $rfc4231[$i] };
    my $kf = write_file("$dir/rfc$i.key", $key);
    my ($rc, $out) = cli({ stdin => $data }, 'sign', '--secret-file', $kf);
    is($rc, 0, "RFC 4231 vector $i: exit 0");
    is($out, "$mac\n", "RFC 4231 vector $i: the documented HMAC");
}

# every example event, file and stdin, against Digest::SHA
my $sf = secret_file();
for my $e (events()) {
    my ($name, $type, $body) = @$e;
    my $want = hmac($body) . "\n";
    my ($rc, $out, $err) = cli('sign', '--secret-file', $sf,
                               "$CliTest::ROOT/t/events/$name");
    is($rc, 0, "$name: exit 0");
    is($out, $want, "$name: signature of the file");
    is($err, '', "$name: nothing on stderr");
    ($rc, $out) = cli({ stdin => $body }, 'sign', '--secret-file', $sf);
    is($out, $want, "$name: signature of stdin");
}

# empty body, "-" for stdin, and a body with a final newline differ
{
    my ($rc, $out) = cli({ stdin => '' }, 'sign', '--secret-file', $sf, '-');
    is($rc, 0, 'empty body: exit 0');
    is($out, hmac('') . "\n", 'empty body: HMAC of nothing');
    ($rc, $out) = cli({ stdin => "{}\n" }, 'sign', '--secret-file', $sf);
    is($out, hmac("{}\n") . "\n", 'the final newline is signed');
    like($out, $HEX, 'lowercase hex and one newline');
}

# the environment variable, and the file taking precedence over it
{
    my $body = event_body('01_user_created.json');
    my ($rc, $out) = cli({ stdin => $body,
                           env => { SMILE_WEBHOOK_SECRET => $SECRET } },
                         'sign');
    is($rc, 0, 'SMILE_WEBHOOK_SECRET: exit 0');
    is($out, hmac($body) . "\n", 'SMILE_WEBHOOK_SECRET: signature');

    my $other = secret_file("another secret\n");
    forbid('another secret');
    ($rc, $out) = cli({ stdin => $body,
                        env => { SMILE_WEBHOOK_SECRET => $SECRET } },
                      'sign', '--secret-file', $other);
    is($out, hmac($body, 'another secret') . "\n",
       '--secret-file wins over SMILE_WEBHOOK_SECRET');
}

# the secret file: comments, empty lines, CRLF, first secret signs, no NL
{
    my $body = 'x';
    my $f = secret_file("# rotated on Monday\n\n$SECRET\r\nold secret\n");
    forbid('old secret');
    my ($rc, $out) = cli({ stdin => $body }, 'sign', '--secret-file', $f);
    is($out, hmac($body) . "\n", 'comment, empty line and CR skipped');

    $f = secret_file($SECRET);
    ($rc, $out) = cli({ stdin => $body }, 'sign', '--secret-file', $f);
    is($out, hmac($body) . "\n", 'a file without a final newline');

    $f = secret_file(" $SECRET\n");
    ($rc, $out) = cli({ stdin => $body }, 'sign', '--secret-file', $f);
    is($out, hmac($body, " $SECRET") . "\n",
       'blanks are part of the secret, as in smile_webhook_secret_file');
}

# errors: exit codes and messages
{
    my ($rc, $out, $err) = cli('sign', '--secret-file', $sf,
                               "$dir/no-such-file");
    is($rc, 3, 'unreadable body file: exit 3');
    like($err, qr/cannot open "\Q$dir\E\/no-such-file": No such file/,
         'unreadable body file: message');
    is($out, '', 'unreadable body file: no output');

    ($rc, $out, $err) = cli('sign', '--secret-file', $sf, $dir);
    is($rc, 3, 'a directory as body: exit 3');
    like($err, qr/cannot read .*Is a directory/, 'a directory: message');

    ($rc, $out, $err) = cli({ stdin => 'x' }, 'sign', '--secret-file',
                            "$dir/no-secret");
    is($rc, 3, 'unreadable secret file: exit 3');
    like($err, qr/cannot open the secret file/, 'unreadable secret file');

    my $f = secret_file('');
    ($rc, $out, $err) = cli({ stdin => 'x' }, 'sign', '--secret-file', $f);
    is($rc, 4, 'empty secret file: exit 4');
    like($err, qr/contains no secret/, 'empty secret file: message');

    $f = secret_file("# only a comment\n\n\r\n");
    ($rc, $out, $err) = cli({ stdin => 'x' }, 'sign', '--secret-file', $f);
    is($rc, 4, 'comments only: exit 4');

    $f = secret_file(join '', ('s' x 1000 . "\n") x 66);
    ($rc, $out, $err) = cli({ stdin => 'x' }, 'sign', '--secret-file', $f);
    is($rc, 4, 'secret file over 64k: exit 4');
    like($err, qr/larger than 64k/, 'secret file over 64k: message');

    ($rc, $out, $err) = cli({ stdin => 'x',
                              env => { SMILE_WEBHOOK_SECRET => '' } },
                            'sign');
    is($rc, 4, 'empty SMILE_WEBHOOK_SECRET: exit 4');
    like($err, qr/SMILE_WEBHOOK_SECRET is set but empty/, 'its message');

    # no secret anywhere and no terminal (a new session has none)
    ($rc, $out, $err) = cli({ stdin => 'x', setsid => 1 }, 'sign');
    is($rc, 4, 'no secret and no terminal: exit 4');
    like($err, qr/no secret: give --secret-file FILE or set SMILE_WEBHOOK_SECRET/,
         'no secret: message names both ways');
    is($out, '', 'no secret: no output');
}

# the prompt: on the terminal, echo off, the secret read from it
sub prompt_sign {
    my ($typed, $body) = @_;
    return cli_pty({ stdin => $body, expect => qr/secret: \z/,
                     type => $typed }, 'sign');
}

{
    my ($rc, $out, $err, $screen, $sent) = prompt_sign($SECRET, 'body');
    ok($sent, 'prompt: "Smile webhook secret: " shown on the terminal');
    is($rc, 0, 'prompt: exit 0');
    is($out, hmac('body') . "\n", 'prompt: the typed secret signs');
    ok(no_secret_in('prompt: terminal', $screen, $out, $err),
       'prompt: echo is off, the secret is not shown');

    ($rc, $out, $err, $screen) = prompt_sign('', 'body');
    is($rc, 4, 'prompt: an empty secret is exit 4');
    like($err, qr/the secret typed is empty/, 'prompt: empty: message');
}

# the secret never reaches the process's arguments: no option takes it
{
    my ($rc, $out, $err) = cli({ stdin => 'x' }, 'sign', '--secret', 'x');
    is($rc, 2, 'there is no --secret option');
}

done_testing();
