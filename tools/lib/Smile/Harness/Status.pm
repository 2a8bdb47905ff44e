package Smile::Harness::Status;

# What the module shows about itself, as a harness reads it: the
# smile_webhook_status page (Prometheus text) and the events waiting in a
# spool directory (smile_webhook_spool PATH).
#
#   my $st = read_status(port => $port, uri => '/smile/status');
#   die $st->{error} if $st->{error};
#   my $n = metric($st->{metrics}, 'smile_webhook_spool_depth_events');
#   my @waiting = spool_events("$prefix/spool");

use strict;
use warnings;

use Exporter qw(import);
use Smile::Harness::HTTP qw(http_request);

our @EXPORT_OK = qw(read_status parse_metrics metric spool_events);

# the samples of a Prometheus text: ({'name{labels}' => value, ...},
# [the sample lines, comments left out])
sub parse_metrics {
    my ($text) = @_;
    my (%m, @lines);
    for (split /\n/, $text // '') {
        next if /^#/ || !/\S/;
        push @lines, $_;
        $m{$1} = $2 if /^(\S+)\s+(\S+)$/;
    }
    return (\%m, \@lines);
}

# GET $o{uri} on 127.0.0.1:$o{port}: { metrics => {...}, lines => [...],
# text } or { error => why }
sub read_status {
    my (%o) = @_;
    my $r = http_request(method => 'GET', agent => 'smile-webhook-harness',
                         %o);
    return { error => "GET $o{uri}: $r->{error}" } if $r->{error};
    return { error => "GET $o{uri}: HTTP $r->{status}, expected 200" }
        if $r->{status} != 200;
    my ($m, $lines) = parse_metrics($r->{body});
    return { metrics => $m, lines => $lines, text => $r->{body} };
}

# the sum of the samples of metric $name whose labels include every
# label => value given (all of them with none given); undef when there is
# no such sample
sub metric {
    my ($m, $name, %labels) = @_;
    my $sum;
    for my $k (keys %$m) {
        my ($n, $l) = $k =~ /^([^{]+)(?:\{(.*)\})?$/ or next;
        next unless $n eq $name;
        my %have = ($l // '') =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
        next if grep { ($have{$_} // "\0") ne $labels{$_} } keys %labels;
        $sum = ($sum // 0) + $m->{$k};
    }
    return $sum;
}

# the events waiting in a spool directory, by file name
# (ev-RECEIVED-ATTEMPTS-ID; not the records being written, tmp-*, nor
# dead/); () when it cannot be read. In scalar context: how many.
sub spool_events {
    my ($dir) = @_;
    opendir my $d, $dir or return ();
    my @events = sort grep { /^ev-\d+-\d+-/ && -f "$dir/$_" } readdir $d;
    return @events;
}

1;
