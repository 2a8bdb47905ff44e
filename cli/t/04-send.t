# smile-webhook send against a real nginx with the module: every example
# event (200 each), a wrong secret (401 each), --fresh through a dedupe
# zone and a replay window, files, a failing app, another signature
# header, an endpoint that is down or silent, and TLS.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use CliTest;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

my $dir = tmpdir();
my $sf = secret_file();
my @events = events();

# send never prints a signature
forbid(hmac($_->[2])) for @events;

my ($app, $port, $tls) = (free_port(), free_port(), free_port());

system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $dir/key.pem "
       . "-out $dir/cert.pem -days 2 -subj /CN=127.0.0.1 "
       . "-addext subjectAltName=IP:127.0.0.1 2>/dev/null") == 0
    or BAIL_OUT('openssl cannot make a test certificate');

my $hooks = <<"_EOC_";
        add_header X-Smile-Webhook-Result \$smile_webhook_result always;
        smile_webhook_secret_file $sf;
        smile_webhook_allow 127.0.0.1;

        location = /hook {
            smile_webhook on;
            proxy_pass http://127.0.0.1:$app;
        }

        location = /once {
            smile_webhook on;
            smile_webhook_dedupe once;
            smile_webhook_max_age 5m;
            proxy_pass http://127.0.0.1:$app;
        }

        location = /dedupe {
            smile_webhook on;
            smile_webhook_dedupe dedupe;
            proxy_pass http://127.0.0.1:$app;
        }

        location = /fail {
            smile_webhook on;
            proxy_pass http://127.0.0.1:$app;
        }

        location = /header {
            smile_webhook on;
            smile_webhook_signature_header X-Sig;
            proxy_pass http://127.0.0.1:$app;
        }
_EOC_

my $nginx = start_nginx(<<"_EOC_");
    log_format app '\$uri \$http_x_smile_event_type \$http_x_smile_event_id '
                   '\$http_x_smile_event_created_at \$content_length';
    smile_webhook_dedupe_zone once:1m ttl=1h;
    smile_webhook_dedupe_zone dedupe:1m ttl=1h;

    server {
        listen 127.0.0.1:$app;
        access_log \@PREFIX\@/logs/app.log app;

        location / {
            return 200 "app\\n";
        }

        location = /fail {
            return 503;
        }
    }

    server {
        listen 127.0.0.1:$port;
$hooks
    }

    server {
        listen 127.0.0.1:$tls ssl;
        ssl_certificate $dir/cert.pem;
        ssl_certificate_key $dir/key.pem;
$hooks
    }
_EOC_

my $base = "http://127.0.0.1:$port";
my $app_lines = 0;

# the app's log lines since the last call: [ uri, type, id, createdAt,
# length ]; nginx logs a request after its answer, so this waits a little
# for $want lines (or for any late one when none is wanted)
sub app_seen {
    my ($want) = @_;
    my $deadline = time + ($want ? 10 : 0.3);
    my @lines;
    while (1) {
        @lines = split /\n/, nginx_log($nginx, 'app.log');
        last if time > $deadline || ($want && @lines - $app_lines >= $want);
        select undef, undef, undef, 0.05;
    }
    my @new = @lines[$app_lines .. $#lines];
    $app_lines = @lines;
    return map { [ split / / ] } @new;
}

# send(ARGS...) -> (rc, [ [status, result, type, id, file] ... ], summary, err)
sub send_events {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my ($rc, $out, $err) = cli($opt, 'send', @_);
    my @lines = split /\n/, $out;
    my $summary = @lines && $lines[-1] =~ /sent/ ? pop @lines : '';
    return ($rc, [ map { [ split ' ' ] } @lines ], $summary, $err);
}

# every example event: 200 ok, in order, each reaching the app
{
    my ($rc, $lines, $summary, $err) =
        send_events("$base/hook", '--all', '--secret-file', $sf);
    is($rc, 0, 'send --all: exit 0');
    is($summary, '25 sent, 25 answered 2xx, 0 did not', 'send --all: summary');
    is($err, '', 'send --all: nothing on stderr');
    is(scalar @$lines, 25, 'send --all: a line per event');
    my @seen = app_seen(25);
    for my $i (0 .. $#events) {
        my ($name, $type) = @{ $events[$i] };
        my $l = $lines->[$i] // [];
        is("@$l[0 .. 2]", "200 ok $type", "send --all: $name: 200 ok");
        is($seen[$i][1], $type, "send --all: $name reached the app");
        is($seen[$i][4], length $events[$i][2],
           "send --all: $name: the body byte for byte");
    }
}

# the secret from the environment; a wrong one: 401 each, nothing forwarded
{
    my ($rc, $lines, $summary) = send_events(
        { env => { SMILE_WEBHOOK_SECRET => $SECRET } },
        "$base/hook", '--type', 'user_created');
    is($rc, 0, 'SMILE_WEBHOOK_SECRET: exit 0');
    is("@{ $lines->[0] }[0 .. 1]", '200 ok', 'SMILE_WEBHOOK_SECRET: 200 ok');
    app_seen(1);

    forbid('not the secret');
    ($rc, $lines, $summary) = send_events(
        { env => { SMILE_WEBHOOK_SECRET => 'not the secret' } },
        "$base/hook", '--all');
    is($rc, 1, 'a wrong secret: exit 1');
    is($summary, '25 sent, 0 answered 2xx, 25 did not',
       'a wrong secret: summary');
    for my $i (0 .. $#events) {
        is("@{ $lines->[$i] }[0 .. 2]", "401 bad_signature $events[$i][1]",
           "a wrong secret: $events[$i][0]: 401 bad_signature");
    }
    is(scalar app_seen(), 0, 'a wrong secret: nothing reached the app');
}

# a replay window: the 2021 examples are stale, --fresh ones go through
{
    my ($rc, $lines, $summary) = send_events("$base/once", '--all',
                                             '--secret-file', $sf);
    is($rc, 1, 'max_age, examples as they are: exit 1');
    is(scalar(grep { "@$_[0 .. 1]" eq '401 stale' } @$lines), 25,
       'max_age: 25 x 401 stale');

    ($rc, $lines, $summary) = send_events("$base/once", '--all', '--fresh',
                                          '--secret-file', $sf);
    is($rc, 0, 'max_age and dedupe, --fresh: exit 0');
    is(scalar(grep { "@$_[0 .. 1]" eq '200 ok' } @$lines), 25,
       '--fresh: 25 x 200 ok');
    my @seen = grep { $_->[0] eq '/once' } app_seen(25);
    is(scalar @seen, 25, '--fresh: 25 reached the app');
    my %ids = map { $_->[2] => 1 } @seen;
    is(scalar keys %ids, 25, '--fresh: 25 different ids');
    is(scalar(grep { /^smile-webhook-[0-9a-f]{32}$/ } keys %ids), 25,
       '--fresh: the ids are new');
    is_deeply([ map { $_->[1] } @seen ], [ map { $_->[1] } @events ],
              '--fresh: the types are kept');
    is_deeply([ map { $_->[3] } @$lines ], [ map { $_->[2] } @seen ],
              '--fresh: the ids printed are the ids sent');
}

# a dedupe zone: the examples share three ids, --fresh ones do not
{
    my ($rc, $lines) = send_events("$base/dedupe", '--all',
                                   '--secret-file', $sf);
    is($rc, 0, 'dedupe: duplicates are 2xx: exit 0');
    is(scalar(grep { "@$_[0 .. 1]" eq '200 ok' } @$lines), 3,
       'dedupe: the 3 distinct ids are ok');
    is(scalar(grep { "@$_[0 .. 1]" eq '200 duplicate' } @$lines), 22,
       'dedupe: 22 x 200 duplicate');
    app_seen(3);

    ($rc, $lines) = send_events("$base/dedupe", '--all', '--fresh',
                                '--secret-file', $sf);
    is(scalar(grep { "@$_[0 .. 1]" eq '200 ok' } @$lines), 25,
       'dedupe, --fresh: 25 x 200 ok');
    is(scalar app_seen(25), 25, 'dedupe, --fresh: 25 reached the app');
}

# the app fails: the module said ok, the answer is not 2xx
{
    my ($rc, $lines, $summary) = send_events("$base/fail", '--type',
                                             'TASK_FINISHED', '--secret-file',
                                             $sf);
    is($rc, 1, 'a 503 from the app: exit 1');
    is("@{ $lines->[0] }[0 .. 2]", '503 ok TASK_FINISHED',
       'a 503 from the app: status and result');
    is($summary, '1 sent, 0 answered 2xx, 1 did not', 'a 503: summary');
    app_seen(1);
}

# files, stdin, a malformed body
{
    my $f = write_file("$dir/event.json", $events[5][2]);
    my $bad = write_file("$dir/bad.json", "{\"id\":\"x\"}");
    my ($rc, $lines) = send_events({ stdin => $events[0][2] }, "$base/hook",
                                   $f, '-', $bad, '--secret-file', $sf);
    is($rc, 1, 'files with a malformed one: exit 1');
    is("@{ $lines->[0] }", "200 ok $events[5][1] et-123abc456def789abc123def456abc78 $f",
       'a FILE: its line names it');
    is("@{ $lines->[1] }[0 .. 2,4]", "200 ok USER_CREATED (stdin)",
       '"-": the body from stdin');
    is("@{ $lines->[2] }", "400 malformed_event - - $bad",
       'a malformed body: 400 malformed_event');
    app_seen(2);

    my ($frc, $out, $err) = cli('send', "$base/hook", '--fresh', $bad,
                                '--secret-file', $sf);
    is($frc, 1, '--fresh of an object without type: exit 1');
    like($out, qr/\A400 malformed_event\s+-\s+-\s+\Q$bad\E\n/,
         '--fresh of an object without type: still malformed_event');
    ($frc, $out, $err) = cli('send', "$base/hook", '--fresh', "$dir/none.json",
                             '--secret-file', $sf);
    is($frc, 3, 'an unreadable FILE: exit 3');
    like($err, qr/cannot open "\Q$dir\E\/none.json"/, 'an unreadable FILE: message');
    is($out, '', 'an unreadable FILE: nothing sent');
    my $nj = write_file("$dir/array.json", '[1,2]');
    ($frc, $out, $err) = cli('send', "$base/hook", '--fresh', $nj,
                             '--secret-file', $sf);
    is($frc, 3, '--fresh of a FILE that is no JSON object: exit 3');
    like($err, qr/is not a JSON object, --fresh cannot rewrite it/,
         '--fresh of a non-object: message');
    is(scalar app_seen(), 0, 'nothing was sent for the refused files');
}

# another signature header
{
    my ($rc, $lines) = send_events("$base/header", '--type', 'USER_CREATED',
                                   '--signature-header', 'X-Sig',
                                   '--secret-file', $sf);
    is("@{ $lines->[0] }[0 .. 1]", '200 ok', '--signature-header X-Sig: ok');
    ($rc, $lines) = send_events("$base/header", '--type', 'USER_CREATED',
                                '--secret-file', $sf);
    is("@{ $lines->[0] }[0 .. 1]", '401 missing_signature',
       'the default header where X-Sig is expected: missing_signature');
    app_seen(1);
}

# an endpoint that is down: exit 5 at the first event
{
    my $down = free_port();
    my ($rc, $out, $err) = cli('send', "http://127.0.0.1:$down/hook", '--all',
                               '--secret-file', $sf);
    is($rc, 5, 'endpoint down: exit 5');
    is($out, '', 'endpoint down: no event line');
    like($err, qr/\Asmile-webhook: send: USER_CREATED et-\S+: .*(Failed to connect|Couldn't connect)[^\n]*\n\z/,
         'endpoint down: one clear message');

    ($rc, $out, $err) = cli('send', 'http://no-such-host.invalid/hook',
                            '--type', 'USER_CREATED', '--secret-file', $sf);
    is($rc, 5, 'a host that does not resolve: exit 5');
    like($err, qr/resolve/i, 'a host that does not resolve: message');
}

# an endpoint that never answers: exit 5 after --timeout
{
    my $hang = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                     Listen => 5) or die "listen: $!\n";
    my $t0 = time;
    my ($rc, $out, $err) = cli('send', 'http://127.0.0.1:' . $hang->sockport
                               . '/hook', '--all', '--timeout', '1',
                               '--secret-file', $sf);
    my $took = time - $t0;
    is($rc, 5, 'no answer: exit 5');
    like($err, qr/timed out/i, 'no answer: the message says so');
    ok($took < 10, sprintf('no answer: stops at the first (%.1fs)', $took));
    close $hang;
}

# TLS
{
    my $url = "https://127.0.0.1:$tls/hook";
    my ($rc, $out, $err) = cli('send', $url, '--type', 'USER_CREATED',
                               '--secret-file', $sf);
    is($rc, 6, 'https, an unknown CA: exit 6');
    like($err, qr/certificate/i, 'https, an unknown CA: message');
    is($out, '', 'https, an unknown CA: nothing sent');

    ($rc, $out) = cli('send', $url, '--type', 'USER_CREATED', '--cacert',
                      "$dir/cert.pem", '--secret-file', $sf);
    is($rc, 0, 'https --cacert: exit 0');
    like($out, qr/\A200 ok\s+USER_CREATED /, 'https --cacert: 200 ok');

    ($rc, $out) = cli('send', $url, '--type', 'USER_CREATED', '--insecure',
                      '--secret-file', $sf);
    like($out, qr/\A200 ok\s+USER_CREATED /, 'https --insecure: 200 ok');

    ($rc, $out, $err) = cli('send', "https://127.0.0.1:$port/hook",
                            '--type', 'USER_CREATED', '--secret-file', $sf);
    is($rc, 6, 'https to a plain http port: exit 6');

    ($rc, $out, $err) = cli('send', $url, '--type', 'USER_CREATED',
                            '--cacert', "$dir/none.pem", '--secret-file', $sf);
    is($rc, 6, 'a --cacert that cannot be read: exit 6');
}

# nothing the module logged names a secret or a signature
ok(no_secret_in('the error log', nginx_log($nginx, 'error.log')),
   'error.log: no secret, no signature');

done_testing();
