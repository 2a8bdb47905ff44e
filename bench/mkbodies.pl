#!/usr/bin/perl
# bench/mkbodies.pl - the request bodies bench/run sends, and their signatures.
#
#   mkbodies.pl OUTDIR SECRET SEED_EVENT
#
# Writes OUTDIR/NAME.json and, for each, .sig (HMAC-SHA512 hex of the exact
# bytes, as Smile signs) and .badsig (the same with one hex digit changed):
#
#   small  SEED_EVENT byte for byte (t/events/01_user_created.json)
#   16k    a valid event of exactly 16384 bytes
#   1m     a valid event of exactly 1048576 bytes
#
# These DOCUMENTS_ADDED events carry one long string of printable ASCII in
# data (deterministic, base64-like, so nothing about it is easier than real
# payload data for a JSON scanner).  Then the shapes of real includePayload
# deliveries and the hard cases of the parser, each at 16 KB and 1 MB
# (NAME16k, NAME1m, exactly 16384 and 1048576 bytes, valid events):
#
#   records  an INCOMES_ADDED event whose data holds an array of records:
#            small objects of short strings (names in Chinese, Spanish and
#            Korean, a few escapes), numbers, booleans, nulls, a nested
#            object and an array of small objects
#   deep     records that are chains of objects and arrays 40 deep
#   utf      records of long non-ASCII text (3- and 4-byte UTF-8)
#   esc      records whose strings are dense with escapes (\", \\, \n,
#            \u00e9, \ud83d\ude00)
#
# For the unique-id load (BENCH_UNIQUE=1, bench/wrk_unique.lua) it also
# writes OUTDIR/{small,16k,1m}.u.{json,sig,badsig}: the same events, of the
# same length, with the top-level "id" member moved to the end of the object,
# and .u.idpos, "OFFSET LENGTH" of the id's value (bytes, 0-based).  wrk
# replaces the id there on every request and, because everything before it is
# fixed, signs only the few bytes from the id on.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::RealBin/../tools/lib";
use Smile::Harness::Events qw(sign);
use Smile::Harness::Util qw(slurp spew);

my ($out, $secret, $seed) = @ARGV;
die "usage: mkbodies.pl OUTDIR SECRET SEED_EVENT\n" unless defined $seed;

sub filler {
    my ($len) = @_;
    my @c = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '+', '/');
    my ($s, $x) = ('', 12345);
    while (length $s < $len) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $s .= $c[($x >> 16) % 64];
    }
    return $s;
}

# ID_LAST: the id is the last top-level member instead of the first
sub big_event {
    my ($size, $id_last) = @_;
    my $id = '"id":"et-bench' . $size . 'abc456def789abc123def456"';
    my $head = '{' . ($id_last ? '' : "$id,") . '"version":1,'
             . '"type":"DOCUMENTS_ADDED","createdAt":"2021-04-14T09:30:24Z",'
             . '"data":{"userId":"tenantId-123abc456def789abc123def456abc78",'
             . '"accountId":"acc-123abc456def789abc123def456abc78",'
             . '"documents":[{"name":"payslip.pdf","content":"';
    my $tail = '"}]}' . ($id_last ? ",$id" : '') . '}';
    my $n = $size - length($head) - length($tail);
    die "size $size too small\n" if $n < 1;
    return $head . filler($n) . $tail;
}

# the seed event with its leading "id" member moved behind the last member,
# byte count unchanged: '{' WS ID SEP REST WS '}' becomes '{' WS REST SEP ID WS '}'
sub id_last {
    my ($json) = @_;
    $json =~ /\A(\{\s*)("id"\s*:\s*"[A-Za-z0-9._:-]+")(\s*,\s*)(.*\S)(\s*\}\s*)\z/s
        or die "seed event: expected the top-level \"id\" as the first member\n";
    return "$1$4$3$2$5";
}

# ---- the includePayload shapes

my $lcg = 1;

sub rnd {
    my ($n) = @_;
    $lcg = ($lcg * 1103515245 + 12345) % 2147483648;
    return ($lcg >> 8) % $n;
}

my @names = ("\x{5f20}\x{4e09}", "\x{674e}\x{56db}\x{82b1}",
             "Mar\x{ed}a Jos\x{e9} N\x{fa}\x{f1}ez",
             "\x{ae40}\x{bbfc}\x{c900}", "Jo\x{e3}o Gon\x{e7}alves",
             "\x{9648}\x{5c0f}\x{660e}");
my @employers = ("Compa\x{f1}\x{ed}a Minera S.A.",
                 "\x{682a}\x{5f0f}\x{4f1a}\x{793e}\x{30b9}\x{30de}\x{30a4}\x{30eb}",
                 "Banco de Oro", "\x{4e2d}\x{56fd}\x{5de5}\x{5546}\x{94f6}\x{884c}",
                 "ACME \\\"Global\\\" Ltd.");

sub utf8 {
    my ($s) = @_;
    utf8::encode($s);
    return $s;
}

sub record {
    my ($i) = @_;
    return utf8(sprintf(
        '{"id":"inc-%06d","employee":"%s","employer":"%s",'
        . '"amount":%d.%02d,"currency":"PHP","period":{"start":"2021-%02d-01",'
        . '"end":"2021-%02d-28"},"taxable":%s,"bonus":%s,'
        . '"notes":"line 1\\nline 2 \\"%d\\"","tags":["salary","monthly"],'
        . '"deductions":[{"type":"SSS","amount":-%d.%02d},'
        . '{"type":"PhilHealth","amount":-%d}]}',
        $i, $names[rnd(6)], $employers[rnd(5)], rnd(90000) + 1000, rnd(100),
        1 + $i % 12, 1 + $i % 12, rnd(2) ? 'true' : 'false',
        rnd(3) ? 'null' : rnd(5000), $i, rnd(900), rnd(100), rnd(500)));
}

sub deep_record {
    my ($i) = @_;
    my ($head, $tail) = ('', '');
    for my $d (1 .. 20) {
        $head .= sprintf('{"k%d":[', $d);
        $tail = ']}' . $tail;
    }
    return $head . sprintf('%d,true,{"v":"x%d"}', $i, $i) . $tail;
}

sub utf_record {
    my ($i) = @_;
    my $t = "\x{4e2d}\x{6587}\x{5b57}\x{7b26}\x{6d4b}\x{8bd5}\x{ff0c}"
            . "\x{6536}\x{5165}\x{8bc1}\x{660e}\x{3002}";
    return utf8(sprintf('{"id":"u-%d","name":"%s","address":"%s",'
                        . '"memo":"%s %s %s"}', $i, $names[rnd(6)],
                        $t x (1 + rnd(3)), $employers[rnd(4)],
                        "\x{1f600}\x{1f389}", $t x 2));
}

sub esc_record {
    my ($i) = @_;
    return sprintf('{"id":"e-%d","path":"C:\\\\Users\\\\smile\\\\%d.pdf",'
                   . '"quote":"\\"a\\" \\"b\\" \\"c\\"","text":"a\\nb\\tc\\r\\n'
                   . '\\u00e9\\u4e2d\\ud83d\\ude00\\/\\b\\f"}', $i, $i);
}

# an event of exactly SIZE bytes: NAME_ADDED, data holds records from
# GEN, white space before the array's end pads it; ID_LAST as big_event()
sub records_event {
    my ($size, $gen, $id_last) = @_;
    my $id = '"id":"et-' . $size . 'rec456def789abc123def456"';
    my $head = '{' . ($id_last ? '' : "$id,") . '"version":1,'
             . '"type":"INCOMES_ADDED","createdAt":"2021-04-14T09:30:24Z",'
             . '"data":{"userId":"tenantId-123abc456def789abc123def456abc78",'
             . '"accountId":"acc-123abc456def789abc123def456abc78",'
             . '"records":[';
    my $tail = ']}' . ($id_last ? ",$id" : '') . '}';
    my ($body, $i) = ($head, 0);

    $lcg = 1;

    for (;;) {
        my $r = ($i ? ',' : '') . $gen->($i);
        last if length($body) + length($r) + length($tail) > $size;
        $body .= $r;
        $i++;
    }

    die "size $size too small\n" unless $i;

    return $body . (' ' x ($size - length($body) - length($tail))) . $tail;
}

my %shapes = (
    records => \&record,
    deep    => \&deep_record,
    utf     => \&utf_record,
    esc     => \&esc_record,
);

my %bodies = (
    'small'   => slurp($seed) // die("$seed: $!\n"),
    '16k'     => big_event(16384),
    '1m'      => big_event(1048576),
);
$bodies{'small.u'} = id_last($bodies{small});
$bodies{'16k.u'}   = big_event(16384, 1);
$bodies{'1m.u'}    = big_event(1048576, 1);

for my $shape (sort keys %shapes) {
    for my $size ([16384, '16k'], [1048576, '1m']) {
        my $name = $shape . $size->[1];
        $bodies{$name} = records_event($size->[0], $shapes{$shape});
        $bodies{"$name.u"} = records_event($size->[0], $shapes{$shape}, 1);
    }
}

for my $name (sort keys %bodies) {
    my $body = $bodies{$name};
    my $sig = sign($body, $secret);
    (my $bad = $sig) =~ s/^(.)/$1 eq '0' ? '1' : '0'/e;
    spew("$out/$name.json", $body);
    spew("$out/$name.sig", $sig);
    spew("$out/$name.badsig", $bad);
    next unless $name =~ /\.u\z/;
    my ($base) = $name =~ /\A(.*)\.u\z/;
    die "$name: length differs from $base\n" if length $body != length $bodies{$base};
    # the last top-level "id" member is the last one in the text
    $body =~ /.*"id"\s*:\s*"([A-Za-z0-9._:-]+)"/s or die "$name: no id\n";
    spew("$out/$name.idpos", "$-[1] " . length($1));
}
