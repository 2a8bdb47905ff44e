#!/usr/bin/perl
# bench/micro/mkstruct.pl - structure-heavy events for bench/micro: the same
# envelope as bench/mkbodies.pl's, but "data" carries an array of small
# transaction objects (as an includePayload event does) instead of one long
# string, padded to exactly the given size.
#
#   mkstruct.pl OUTDIR
#
# Writes OUTDIR/struct16k.json (16384 bytes) and OUTDIR/struct1m.json
# (1048576 bytes).

use strict;
use warnings;

my ($out) = @ARGV;
die "usage: mkstruct.pl OUTDIR\n" unless defined $out;

sub event {
    my ($size) = @_;
    my $head = '{"id":"et-struct' . $size . 'abc456def789abc123def456",'
             . '"version":1,"type":"TRANSACTIONS_ADDED",'
             . '"createdAt":"2021-04-14T09:30:24Z",'
             . '"data":{"userId":"tenantId-123abc456def789abc123def456abc78",'
             . '"accountId":"acc-123abc456def789abc123def456abc78",'
             . '"transactions":[';
    my $tail = ']}}';
    my ($body, $i, $x) = ($head, 0, 12345);
    for (;;) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        my $t = sprintf('{"id":"tx-%06d","amount":%d.%02d,"currency":"USD",'
                      . '"date":"2021-%02d-%02d","description":"Payroll '
                      . 'deposit %d","pending":%s,"tags":["salary","monthly"]}',
                        $i, $x % 100000, $x % 100, 1 + $x % 12, 1 + $x % 28,
                        $x % 997, $x & 1 ? 'true' : 'false');
        my $sep = $i ? ',' : '';
        last if length($body) + length($sep) + length($t) + length($tail)
                > $size;
        $body .= $sep . $t;
        $i++;
    }
    # pad with white space inside the array to the exact size
    $body .= ' ' x ($size - length($body) - length($tail));
    return $body . $tail;
}

for my $size (16384, 1048576) {
    my $name = $size == 16384 ? 'struct16k' : 'struct1m';
    open my $fh, '>:raw', "$out/$name.json" or die "$out/$name.json: $!\n";
    print {$fh} event($size);
    close $fh or die "$out/$name.json: $!\n";
}
