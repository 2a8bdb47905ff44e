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

use strict;
use warnings;
use Digest::SHA qw(hmac_sha512_hex);

my ($out, $secret, $seed) = @ARGV;
die "usage: mkbodies.pl OUTDIR SECRET SEED_EVENT\n" unless defined $seed;

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    local $/;
    return scalar <$fh>;
}

sub spew {
    my ($path, $data) = @_;
    open my $fh, '>:raw', $path or die "$path: $!\n";
    print {$fh} $data;
    close $fh or die "$path: $!\n";
}

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

sub big_event {
    my ($size) = @_;
    my $head = '{"id":"et-bench' . $size . 'abc456def789abc123def456","version":1,'
             . '"type":"DOCUMENTS_ADDED","createdAt":"2021-04-14T09:30:24Z",'
             . '"data":{"userId":"tenantId-123abc456def789abc123def456abc78",'
             . '"accountId":"acc-123abc456def789abc123def456abc78",'
             . '"documents":[{"name":"payslip.pdf","content":"';
    my $tail = '"}]}}';
    my $n = $size - length($head) - length($tail);
    die "size $size too small\n" if $n < 1;
    return $head . filler($n) . $tail;
}

my %bodies = (
    'small' => slurp($seed),
    '16k'   => big_event(16384),
    '1m'    => big_event(1048576),
);

for my $name (sort keys %bodies) {
    my $body = $bodies{$name};
    my $sig = hmac_sha512_hex($body, $secret);
    (my $bad = $sig) =~ s/^(.)/$1 eq '0' ? '1' : '0'/e;
    spew("$out/$name.json", $body);
    spew("$out/$name.sig", $sig);
    spew("$out/$name.badsig", $bad);
}
