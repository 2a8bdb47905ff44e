# smile-webhook: help, the man page, bad usage (exit 2) and the examples
# command.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use Test::More;

my $sf = secret_file();
my @commands = ('sign', 'verify', 'send', 'examples', 'spool list',
                'spool show', 'spool requeue', 'spool purge', 'help');

# --help: every command, every option, the exit codes
my ($rc, $help, $err) = cli('--help');
is($rc, 0, '--help: exit 0');
is($err, '', '--help: nothing on stderr');
for my $c (@commands) {
    like($help, qr/^  smile-webhook \Q$c\E\b/m, "--help lists $c");
    my ($crc, $out) = cli(split(/ /, $c), '--help');
    is($crc, 0, "$c --help: exit 0");
    like($out, qr/\AUsage: smile-webhook \Q$c\E/, "$c --help: its usage");
    my ($hrc, $hout) = cli('help', split / /, $c);
    is($hout, $out, "help $c is $c --help");
    like($help, qr/^\Q$out\E/m, "--help has the help of $c");
}

# spool --help: the spool commands' helps
{
    my ($src, $sout) = cli('spool', '--help');
    is($src, 0, 'spool --help: exit 0');
    like($sout, qr/\AUsage: smile-webhook spool \(list \| show/,
         'spool --help: its usage');
    for my $c (grep { /^spool / } @commands) {
        like($sout, qr/^Usage: smile-webhook \Q$c\E/m,
             "spool --help: the help of $c");
    }
    my ($hrc, $hout) = cli('help', 'spool');
    is($hout, $sout, 'help spool is spool --help');
}
for my $code (0 .. 7) {
    like($help, qr/^  $code  \S/m, "--help documents exit code $code");
}
like($help, qr/SMILE_WEBHOOK_SECRET/, '--help: the environment variable');

# the man page documents the same options as --help, and the exit codes
my $man = read_file("$CliTest::ROOT/cli/smile-webhook.1");
ok(defined $man, 'the man page exists');
my %in_help = map { $_ => 1 } $help =~ /(--[a-z][a-z-]+)/g;
(my $man_text = $man) =~ s/\\-/-/g;
my %in_man = map { $_ => 1 } $man_text =~ /(--[a-z][a-z-]+)/g;
is_deeply([ sort keys %in_man ], [ sort keys %in_help ],
          'the man page and --help name the same options');
for my $c (@commands) {
    like($man_text, qr/^\.SS "?\Q$c\E"?$/m, "the man page has a section on $c");
}
for my $code (0 .. 7) {
    like($man_text, qr/^\.IP $code\b/m, "the man page documents exit $code");
}

# version
($rc, my $out) = cli('--version');
is($rc, 0, '--version: exit 0');
like($out, qr/\Asmile-webhook \d+\.\d+\.\d+ \(yajl \d+, OpenSSL 3/,
     '--version: version and libraries');

# bad usage: exit 2, a message and the usage on stderr, nothing on stdout
my @usage = (
    [ [], 'no command' ],
    [ [ 'frobnicate' ], 'unknown command' ],
    [ [ 'spool' ], 'spool without a command' ],
    [ [ 'spool', 'frobnicate' ], 'an unknown spool command' ],
    [ [ 'spool', 'list', '--bogus', '/tmp' ], 'an unknown spool option' ],
    [ [ 'spool', 'list', '--body', '/tmp' ], 'an option of another command' ],
    [ [ 'help', 'spool', 'frobnicate' ], 'help on an unknown spool command' ],
    [ [ 'help', 'sign', 'list' ], 'help on a command of sign' ],
    [ [ 'sign', '--bogus' ], 'unknown option' ],
    [ [ 'sign', '-x' ], 'unknown short option' ],
    [ [ 'sign', '--secret', 'x' ], 'an abbreviated option' ],
    [ [ 'sign', '--secret-file' ], 'an option without its value' ],
    [ [ 'sign', '--secret-file', $sf, 'a', 'b' ], 'two FILEs' ],
    [ [ 'verify', '--secret-file', $sf, '--skew', '1m' ],
      '--skew without --max-age' ],
    [ [ 'verify', '--secret-file', $sf, '--now', '@0' ],
      '--now without --max-age' ],
    [ [ 'send' ], 'send without URL' ],
    [ [ 'send', 'http://127.0.0.1:1/' ], 'send without events' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--all', '--type', 'USER_CREATED' ],
      '--all and --type' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--all', 'file.json' ],
      '--all and a FILE' ],
    [ [ 'send', 'ftp://127.0.0.1/x', '--all' ], 'an ftp URL' ],
    [ [ 'send', '127.0.0.1:1/x', '--all' ], 'a URL without scheme' ],
    [ [ 'send', 'http://[::1/', '--all' ], 'a malformed URL' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--type', 'NO_SUCH_TYPE' ],
      'a type without example' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--type', 'not a type' ],
      'an invalid type' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--all', '--timeout', '0' ],
      '--timeout 0' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--all', '--signature-header',
        'Bad Header' ], 'an invalid header name' ],
    [ [ 'send', 'http://127.0.0.1:1/', '--all', '--fresh=yes' ],
      'a value for a flag' ],
    [ [ 'examples', 'A', 'B' ], 'two types' ],
    [ [ 'examples', 'NO_SUCH_TYPE' ], 'examples of an unknown type' ],
    [ [ 'help', 'frobnicate' ], 'help on an unknown command' ],
);
for my $u (@usage) {
    my ($args, $what) = @$u;
    my ($urc, $uout, $uerr) = cli({ env => { SMILE_WEBHOOK_SECRET => $SECRET } },
                                  @$args);
    is($urc, 2, "usage: $what: exit 2");
    is($uout, '', "usage: $what: nothing on stdout");
    like($uerr, qr/\Asmile-webhook\b.*\n/, "usage: $what: a message");
}

# the option's value is not echoed in an error
{
    my ($urc, $uout, $uerr) = cli('sign', '--secret=hunter2');
    is($urc, 2, '--secret=VALUE: exit 2');
    unlike($uerr, qr/hunter2/, '--secret=VALUE: the value is not echoed');
}

# examples: the 25 events, byte for byte
{
    my @events = events();
    my ($erc, $list) = cli('examples');
    is($erc, 0, 'examples: exit 0');
    my @lines = split /\n/, $list;
    is(scalar @lines, 25, 'examples: 25 lines');
    for my $i (0 .. $#events) {
        my ($name, $type, $body) = @{ $events[$i] };
        like($lines[$i], qr/^\Q$type\E\s+\S+\s+\Q${\ length $body}\E  \Q$name\E$/,
             "examples: $name listed with its type and size");
        my ($brc, $got) = cli('examples', lc $type);
        is($got, $body, "examples $type: the body byte for byte");
    }

    # --fresh: a new id and createdAt, the rest as it was
    my ($frc, $fresh) = cli('examples', '--fresh', 'USER_CREATED');
    is($frc, 0, 'examples --fresh: exit 0');
    like($fresh, qr/"id": "smile-webhook-[0-9a-f]{32}"/, '--fresh: a new id');
    unlike($fresh, qr/2021-04-14/, '--fresh: a new createdAt');
    like($fresh, qr/"userId": "tenantId-123abc456def789abc123def456abc78"/,
         '--fresh: the data kept');
    my ($vrc, $vout) = cli({ stdin => $fresh }, 'verify', '--secret-file', $sf,
                           '--signature', hmac($fresh), '--max-age', '5m');
    like($vout, qr/\Aok\n/, '--fresh: the module accepts it with a replay window');
    my ($frc2, $fresh2) = cli('examples', '--fresh', 'USER_CREATED');
    isnt($fresh2, $fresh, '--fresh: another id each time');

    # the same rewriting keeps nested values and numbers exactly
    ($frc, $fresh) = cli('examples', '--fresh', 'INSIGHT_ADDED');
    my $orig = $events[23][2];
    my ($nested) = $orig =~ /("data":.*)\z/s;
    $nested =~ s/\s+//g;
    (my $f = $fresh) =~ s/\s+//g;
    ok(index($f, $nested) > 0, '--fresh: "data" unchanged (a nested "id" too)');
}

done_testing();
