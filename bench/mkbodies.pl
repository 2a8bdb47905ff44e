#!/usr/bin/perl
# bench/mkbodies.pl - the request bodies bench/run sends, and their signatures.
#
#   mkbodies.pl OUTDIR SECRET SEED_EVENT
#
# Writes OUTDIR/{small,16k,1m}.json and, for each, .sig (HMAC-SHA512 hex of
# the exact bytes, as Smile signs) and .badsig (the same with one hex digit
# changed):
#
#   small  SEED_EVENT byte for byte (t/events/01_user_created.json)
#   16k    a valid event of exactly 16384 bytes
#   1m     a valid event of exactly 1048576 bytes
#
# The big events are DOCUMENTS_ADDED events whose data carries one long
# string of printable ASCII (deterministic, base64-like, so nothing about it
# is easier than real payload data for a JSON scanner).
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

my %bodies = (
    'small'   => slurp($seed) // die("$seed: $!\n"),
    '16k'     => big_event(16384),
    '1m'      => big_event(1048576),
);
$bodies{'small.u'} = id_last($bodies{small});
$bodies{'16k.u'}   = big_event(16384, 1);
$bodies{'1m.u'}    = big_event(1048576, 1);

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
