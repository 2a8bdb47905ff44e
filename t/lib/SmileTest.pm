package SmileTest;

# Helpers shared by the t/*.t suites: the seed document's example events
# (t/events/*.json, exact bytes) and Smile's signature over a body.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha512_hex);
use File::Basename qw(dirname);
use Exporter qw(import);

our @EXPORT = qw(sign event_body event_names $SECRET);

our $SECRET = 'a little secret';    # the secret in Smile's documentation

my $events = dirname(__FILE__) . '/../events';

# HMAC-SHA512 of the exact body bytes, lowercase hex, as Smile sends it
sub sign {
    my ($body, $secret) = @_;
    return hmac_sha512_hex($body, defined $secret ? $secret : $SECRET);
}

# the 25 example events, in the order of the seed document
sub event_names {
    opendir my $dh, $events or die "cannot open $events: $!";
    my @names = sort grep { /^\d\d_.*\.json$/ } readdir $dh;
    closedir $dh;
    return @names;
}

sub event_body {
    my ($name) = @_;
    open my $fh, '<:raw', "$events/$name" or die "cannot open $name: $!";
    local $/;
    my $body = <$fh>;
    close $fh;
    return $body;
}

1;
