# Verdict parity: the same bodies and signature headers go to a real nginx
# with the module and to "smile-webhook verify" with the equivalent
# options; the result and every field must be the same.  nginx reports
# them with add_header, from $smile_webhook_result and the event
# variables.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use IO::Socket::INET;
use POSIX qw(strftime);
use Test::More;

my $NEW = 'new secret';
forbid($NEW);
my $sf = secret_file("$NEW\n# the old one, until Smile has the new one\n"
                     . "$SECRET\n");
my $port = free_port();

# the variables, as response headers (an empty one adds no header)
my $report = join '', map { "        add_header X-$_->[0] \$$_->[1] always;\n" }
    ([ 'Result', 'smile_webhook_result' ], [ 'Key', 'smile_webhook_key' ],
     [ 'Id', 'smile_event_id' ], [ 'Type', 'smile_event_type' ],
     [ 'Version', 'smile_event_version' ],
     [ 'Created', 'smile_event_created_at' ], [ 'User', 'smile_user_id' ],
     [ 'Account', 'smile_account_id' ]);

my $nginx = start_nginx(<<"_EOC_");
    server {
        listen 127.0.0.1:$port;
        client_max_body_size 4m;
$report
        smile_webhook_secret_file $sf;
        smile_webhook_allow 127.0.0.1;

        location = /plain {
            smile_webhook on;
            proxy_pass http://127.0.0.1:$port/app;
        }

        location = /policy {
            smile_webhook on;
            smile_webhook_events USER_CREATED ACCOUNT_CREATED LINK_ADDED;
            smile_webhook_max_age 10m skew=30s;
            proxy_pass http://127.0.0.1:$port/app;
        }

        location = /app {
            return 200 "app\\n";
        }
    }
_EOC_

my %options = (
    plain => [],
    policy => [ '--events', 'USER_CREATED,ACCOUNT_CREATED,LINK_ADDED',
                '--max-age', '10m', '--skew', '30s' ],
);

# the verify output's names for the headers above
my %field = (Key => 'key', Id => 'id', Type => 'type', Version => 'version',
             Created => 'createdAt', User => 'userId',
             Account => 'accountId');

# a raw request, so that the header is sent exactly as given (blanks,
# repeated); the answer's headers, names in lower case
sub post {
    my ($loc, $body, $sig) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 30)
        or die "connect: $!\n";
    my $req = "POST /$loc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($body) . "\r\n";
    $req .= "Smile-Signature: $_\r\n"
        for !defined $sig ? () : ref $sig ? @$sig : ($sig);
    print $s "$req\r\n$body";
    local $/;
    my $answer = <$s> // '';
    close $s;
    my ($head) = split /\r\n\r\n/, $answer, 2;
    die "no answer from nginx\n" unless $head && $head =~ m{^HTTP/1\.1 \d+};
    my %h;
    for (split /\r\n/, $head) {
        $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/;
    }
    return \%h;
}

sub module_says {
    my $h = post(@_);
    my %got = (result => $h->{'x-result'} // '(none)');
    for my $name (keys %field) {
        my $v = $h->{ 'x-' . lc $name };
        $got{ $field{$name} } = $v if defined $v;
    }
    return \%got;
}

sub cli_says {
    my ($loc, $body, $sig) = @_;
    my @sig = !defined $sig ? ()
            : ref $sig ? map { ('--signature', $_) } @$sig
            : ('--signature', $sig);
    my ($rc, $out) = cli({ stdin => $body }, 'verify', '--secret-file', $sf,
                         @sig, @{ $options{$loc} });
    my ($result, @lines) = split /\n/, $out;
    my %got = (result => $result // '(none)');
    for (@lines) {
        my ($k, $v) = /^(\w+): (.*)$/ or next;
        $got{$k} = $v unless $k eq 'reason';
    }
    my $want_rc = $got{result} eq 'ok' ? 0 : 1;
    is($rc, $want_rc, "exit code $want_rc for $got{result}") unless $rc == $want_rc;
    return \%got;
}

my $now = time;
sub at { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($now + $_[0])) }

my @bodies = map { [ "seed $_->[0]", $_->[2] ] } events();

# createdAt around the window (10m, skew 30s), far from its edges
for my $d ([ -540, '9m ago' ], [ -660, '11m ago' ], [ 10, '10s ahead' ],
           [ 90, '90s ahead' ]) {
    push @bodies, [ "createdAt $d->[1]", qq({"id":"evt-$d->[0]","version":2,)
        . qq("type":"USER_CREATED","createdAt":"${\ at($d->[0])}",)
        . qq("data":{"userId":"u-1","accountId":"a-1","id":"nested"}}) ];
}
push @bodies, [ 'offset createdAt', qq({"id":"o1","type":"ACCOUNT_CREATED",)
                . qq("createdAt":"${\ strftime('%Y-%m-%dT%H:%M:%S+08:00',
                                               gmtime($now + 8 * 3600))}"}) ];

push @bodies, map { [ "malformed: $_->[1]", $_->[0] ] } (
    [ '', 'empty' ],
    [ ' ', 'a space' ],
    [ 'not json', 'not JSON' ],
    [ '[]', 'an array' ],
    [ '"x"', 'a string' ],
    [ '{}', 'an empty object' ],
    [ '{"type":"USER_CREATED"}', 'no id' ],
    [ '{"id":"e1"}', 'no type' ],
    [ '{"id":1,"type":"USER_CREATED"}', 'a numeric id' ],
    [ '{"id":"e1","type":"user_created"}', 'a lower-case type' ],
    [ '{"id":"e 1","type":"USER_CREATED"}', 'a blank in the id' ],
    [ '{"id":"e1","type":"USER_CREATED"', 'truncated' ],
    [ '{"id":"e1","type":"USER_CREATED"}{}', 'two objects' ],
    [ qq({"id":"e1","type":"USER_CREATED","x":"\xc3\x28"}), 'bad UTF-8' ],
    [ qq(\xef\xbb\xbf{"id":"e1","type":"USER_CREATED"}), 'a BOM' ],
    [ '{"id":"' . ('a' x 129) . '","type":"USER_CREATED"}', 'id of 129' ],
    [ '{"id":"e1","type":"' . ('T' x 65) . '"}', 'type of 65' ],
    [ '{"id":"e1","type":"X",' . ('[' x 300) . (']' x 300) . '}',
      'nested 300 deep' ],
    [ '{"id":"e1","type":"X","n":1' . ('0' x 100) . '}', 'a long number' ],
    [ '{"id":"e1","type":"X","id":"e2"}', 'a repeated id' ],
);

push @bodies, map { [ "edge: $_->[1]", $_->[0] ] } (
    [ '{"id":"' . ('a' x 128) . '","type":"' . ('T' x 64) . '"}',
      'id of 128, type of 64' ],
    [ '{"id":"\u0065\u0031","type":"USER_\u0043REATED"}', 'escapes' ],
    [ '{"id":"e1","type":"USER_CREATED","version":"1","data":'
      . '{"userId":"bad user","accountId":7}}', 'fields outside patterns' ],
    [ '{"data":{"id":"inner","userId":"u2"},"type":"LINK_ADDED","id":"e3"}',
      'data first' ],
    [ '{"id":"e1","type":"USER_CREATED","pad":"' . ('x' x 300000) . '"}',
      'a 300k body' ],
    [ "\n\t {\"id\":\"e1\",\"type\":\"USER_CREATED\"} \n", 'blanks around' ],
);

my ($checked, %seen) = (0);
for my $loc (qw(plain policy)) {
    for my $b (@bodies) {
        my ($what, $body) = @$b;
        my @sigs = ([ 'the old secret', hmac($body) ],
                    [ 'the new secret', hmac($body, $NEW) ],
                    [ 'another secret', hmac($body, 'other') ]);
        if ($what =~ /^seed 0[1-3]|^malformed: (no type|empty)|^edge: esc/) {
            push @sigs, [ 'no header', undef ],
                        [ 'a short one', substr(hmac($body), 2) ],
                        [ 'not hex', 'z' . substr(hmac($body), 1) ],
                        [ 'upper case', uc hmac($body) ],
                        [ 'spaces around', '  ' . hmac($body) . '  ' ],
                        [ 'a tab after', hmac($body) . "\t" ],
                        [ 'a tab before', "\t" . hmac($body) ],
                        [ 'repeated', [ hmac($body), hmac($body) ] ];
        }
        for my $s (@sigs) {
            my ($how, $sig) = @$s;
            my $module = module_says($loc, $body, $sig);
            my $cli = cli_says($loc, $body, $sig);
            is_deeply($cli, $module, "/$loc, $what, $how: "
                      . "$module->{result}")
                or diag(explain({ module => $module, cli => $cli }));
            $checked++;
            $seen{ $module->{result} }++;
        }
    }
}

# every result verify can give was compared
is_deeply([ sort keys %seen ],
          [ sort qw(ok missing_signature malformed_signature bad_signature
                    malformed_event stale ignored) ],
          "every result was compared ($checked cases)");

done_testing();
