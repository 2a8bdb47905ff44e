package Smile::Harness::Events;

# Smile's side of a delivery: the example secret, the signature Smile puts in
# Smile-Signature, the seed document's example events (t/events/*.json, exact
# bytes) and events made now (a current createdAt, an id of one's own).

use strict;
use warnings;

use Digest::SHA qw(hmac_sha512_hex);
use Exporter qw(import);
use JSON::PP ();
use POSIX qw(strftime);
use Smile::Harness::Util qw(ROOT slurp);

our @EXPORT_OK = qw($SECRET sign events_dir event_names event_body seed_events
                    fresh_event rfc3339);

our $SECRET = 'a little secret';    # the secret in Smile's documentation

my $EVENTS = ROOT . '/t/events';

sub events_dir { return $EVENTS }

# HMAC-SHA512 of the exact body bytes, lowercase hex, as Smile sends it
sub sign {
    my ($body, $secret) = @_;
    return hmac_sha512_hex($body, defined $secret ? $secret : $SECRET);
}

# the 25 example events, in the order of the seed document
sub event_names {
    opendir my $dh, $EVENTS or die "cannot open $EVENTS: $!";
    my @names = sort grep { /^\d\d_.*\.json$/ } readdir $dh;
    closedir $dh;
    return @names;
}

sub event_body {
    my ($name) = @_;
    my $body = slurp("$EVENTS/$name");
    die "cannot open $name: $!" unless defined $body;
    return $body;
}

# the example events with what a harness looks at:
#   { name, path, body, type, id, created_at, user_id }
sub seed_events {
    my $json = JSON::PP->new;
    my @seeds;
    for my $name (event_names()) {
        my $body = event_body($name);
        my $ev = eval { $json->decode($body) };
        die "$EVENTS/$name: not a JSON object with an id and a type\n"
            unless ref $ev eq 'HASH' && defined $ev->{id} && defined $ev->{type};
        my $data = ref $ev->{data} eq 'HASH' ? $ev->{data} : {};
        push @seeds, { name => $name, path => "$EVENTS/$name", body => $body,
                       type => $ev->{type}, id => $ev->{id},
                       created_at => $ev->{createdAt},
                       user_id => $data->{userId} };
    }
    return @seeds;
}

# An event of our own, compact JSON in the seed documents' key order:
#   id         (default "ev-fresh-1")
#   type       (default "USER_CREATED")
#   created_at seconds from now (default 0), rendered by rfc3339() with
#              the offset given (default "Z"); or any other string, used
#              verbatim; or undef to leave "createdAt" out
#   offset     "Z" or "+HH:MM" / "-HH:MM"
#   user_id    (default "tenantId-fresh"); undef leaves "data" empty
# The time is taken when the body is built (in t/, when the test file's
# blocks are read: margins must cover the file's run time, valgrind
# included).
sub fresh_event {
    my %o = @_;
    my $id = exists $o{id} ? $o{id} : 'ev-fresh-1';
    my $type = exists $o{type} ? $o{type} : 'USER_CREATED';
    my $user = exists $o{user_id} ? $o{user_id} : 'tenantId-fresh';
    my $created = exists $o{created_at} ? $o{created_at} : 0;

    if (defined $created && $created =~ /^[-+]?\d+$/) {
        $created = rfc3339(time + $created, $o{offset});
    }

    return '{"id":"' . $id . '","version":1,"type":"' . $type . '",'
           . (defined $created ? '"createdAt":"' . $created . '",' : '')
           . '"data":{' . (defined $user ? '"userId":"' . $user . '"' : '')
           . '}}';
}

# a Unix time as RFC 3339 with the given offset ("Z" by default, or
# "+HH:MM" / "-HH:MM": the local time at that offset)
sub rfc3339 {
    my ($t, $offset) = @_;
    $offset = 'Z' unless defined $offset;
    my $shift = 0;
    if ($offset =~ /^([-+])(\d\d):(\d\d)$/) {
        $shift = ($1 eq '-' ? -1 : 1) * ($2 * 3600 + $3 * 60);
    } elsif ($offset ne 'Z') {
        die "bad offset $offset";
    }
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime($t + $shift)) . $offset;
}

1;
