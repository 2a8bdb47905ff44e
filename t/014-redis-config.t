# smile_webhook_redis in the configuration: what `nginx -t` accepts and
# what it rejects, with which message (a bad address, an unreadable or
# empty password file, bad times, databases and parameters, the wrong
# context); the password is never printed; and the status page of a node
# without the directive has no redis lines.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SmileRedis;
use Smile::Harness::Cluster qw(nginx_conf node_status);
use Smile::Harness::Supervisor qw(capture);
use Smile::Harness::Util qw(spew);
use Test::More;

my $t = SmileRedis->new;
my $w = $t->work;
my $PASSWORD = 'pw-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 20);
spew("$w/pw", "$PASSWORD\n");
spew("$w/empty.pw", '');
spew("$w/blank.pw", "\r\nsecond line\n");
mkdir "$w/pwdir";
# (logs/: an nginx built from source with the default --prefix layout opens
# its default access log, logs/access.log, under -p)
mkdir "$w/t";
mkdir "$w/t/logs";

# nginx -t on a configuration with these http{} lines (and these in its
# server{}): (exit status, output)
sub nginx_t {
    my ($http, $server) = @_;
    spew("$w/t/nginx.conf", nginx_conf(
        dir => "$w/t", title => 'nginx -t', module => SmileRedis::smile_module(),
        http => "    $http\n    server {\n        listen 127.0.0.1:1;\n        "
              . ($server // '') . "\n    }"));
    return capture(SmileRedis::nginx_bin(), '-t', '-e', "$w/t/error.log",
                   '-p', "$w/t/", '-c', "$w/t/nginx.conf");
}

my @good = (
    'smile_webhook_redis 127.0.0.1;',
    'smile_webhook_redis 127.0.0.1:6380 db=15 timeout=150ms prefix=app1:;',
    "smile_webhook_redis localhost:6379 password_file=$w/pw db=0 timeout=2s;",
    "smile_webhook_redis unix:$w/redis.sock password_file=$w/pw;",
    'smile_webhook_redis [::1]:6379 db=65535;',
);
# each spool on a stream of its own; one spool named in two locations
push @good, ["smile_webhook_redis 127.0.0.1;",
             "location /a { smile_webhook_spool $w/s1; } location /b { smile_webhook_spool $w/s2 stream=b; }"
             . " location /c { smile_webhook_spool $w/s1; }"],
            ["smile_webhook_spool $w/s1; server { listen 127.0.0.1:1; location /b { smile_webhook_spool $w/s2; } }",
             "# without smile_webhook_redis, stream= does not matter"];
for my $c (@good) {
    my ($rc, $out) = nginx_t(ref $c ? @$c : $c);
    is($rc, 0, "nginx -t accepts: " . (ref $c ? "@$c" : $c)) or diag($out);
}

my @bad = (
    ['smile_webhook_redis 127.0.0.1:99999;', qr/\[emerg\] invalid port in "127\.0\.0\.1:99999" of the "smile_webhook_redis" directive in \S+nginx\.conf:\d+/],
    ['smile_webhook_redis no-such-host.invalid:6379;', qr/\[emerg\] host not found in "no-such-host\.invalid:6379" of the "smile_webhook_redis" directive in \S+nginx\.conf:\d+/],
    ['smile_webhook_redis "";', qr/\[emerg\] .* of the "smile_webhook_redis" directive in \S+nginx\.conf:\d+/],
    ['smile_webhook_redis;', qr/\[emerg\] invalid number of arguments in "smile_webhook_redis" directive/],
    ["smile_webhook_redis 127.0.0.1 password_file=$w/missing.pw;",
     qr/\[emerg\] open\(\) "\Q$w\E\/missing\.pw" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/],
    ["smile_webhook_redis 127.0.0.1 password_file=$w/pwdir;",
     qr/\[emerg\] pread\(\) "\Q$w\E\/pwdir" failed \(21: Is a directory\) in \S+nginx\.conf:\d+/],
    ["smile_webhook_redis 127.0.0.1 password_file=$w/empty.pw;",
     qr/\[emerg\] file "\Q$w\E\/empty\.pw" of the "smile_webhook_redis" directive holds no password in \S+nginx\.conf:\d+/],
    ["smile_webhook_redis 127.0.0.1 password_file=$w/blank.pw;",
     qr/\[emerg\] file "\Q$w\E\/blank\.pw" of the "smile_webhook_redis" directive holds no password in \S+nginx\.conf:\d+/],
    ['smile_webhook_redis 127.0.0.1 password_file=;', qr/\[emerg\] invalid parameter "password_file=" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 timeout=0;', qr/\[emerg\] invalid parameter "timeout=0" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 timeout=soon;', qr/\[emerg\] invalid parameter "timeout=soon" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 timeout=-1s;', qr/\[emerg\] invalid parameter "timeout=-1s" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 db=x;', qr/\[emerg\] invalid parameter "db=x" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 db=-1;', qr/\[emerg\] invalid parameter "db=-1" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 db=65536;', qr/\[emerg\] invalid parameter "db=65536" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 db=;', qr/\[emerg\] invalid parameter "db=" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 tls=on;', qr/\[emerg\] invalid parameter "tls=on" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1 6379;', qr/\[emerg\] invalid parameter "6379" in "smile_webhook_redis"/],
    ['smile_webhook_redis 127.0.0.1; smile_webhook_redis 127.0.0.2;',
     qr/\[emerg\] "smile_webhook_redis" directive is duplicate/],
    ['', qr/\[emerg\] "smile_webhook_redis" directive is not allowed here/, 'smile_webhook_redis 127.0.0.1;'],
    # two spools on one Redis stream: each would replay the other's events
    # into its own server
    ['smile_webhook_redis 127.0.0.1;',
     qr/\[emerg\] spools "\Q$w\E\/s1" \(\S+nginx\.conf:\d+\) and "\Q$w\E\/s2" \(\S+nginx\.conf:\d+\) share the Redis stream "stream"; give one of them stream=NAME in "smile_webhook_spool" directive/,
     "location /a { smile_webhook_spool $w/s1; } location /b { smile_webhook_spool $w/s2; }"],
    ['smile_webhook_redis 127.0.0.1;',
     qr/\[emerg\] spools "\Q$w\E\/s1" \(\S+nginx\.conf:\d+\) and "\Q$w\E\/s2" \(\S+nginx\.conf:\d+\) share the Redis stream "x"/,
     "location /a { smile_webhook_spool $w/s1 stream=x; } location /b { smile_webhook_spool $w/s2 stream=x; }"],
    ['smile_webhook_redis 127.0.0.1;', qr/\[emerg\] invalid parameter "stream=a\/b" in "smile_webhook_spool" directive/,
     "location /a { smile_webhook_spool $w/s1 stream=a/b; }"],
    ['smile_webhook_redis 127.0.0.1;', qr/\[emerg\] invalid parameter "stream=" in "smile_webhook_spool" directive/,
     "location /a { smile_webhook_spool $w/s1 stream=; }"],
    # a mistake after the password was read: the password is not shown
    ["smile_webhook_redis 127.0.0.1 password_file=$w/pw timeout=never;",
     qr/\[emerg\] invalid parameter "timeout=never" in "smile_webhook_redis"/],
);
for my $c (@bad) {
    my ($http, $re, $server) = @$c;
    my ($rc, $out) = nginx_t($http, $server);
    isnt($rc, 0, "nginx -t rejects: " . ($http || "in server{}: $server"));
    like($out, $re, '... saying why') or diag($out);
    unlike($out, qr/\Q$PASSWORD\E/, '... and not the password');
}

# the status page without smile_webhook_redis: no redis lines
my $app = $t->app;
my $plain = $t->node('plain', redis => undef);
my $st = node_status($plain);
ok(!$st->{error}, 'a node without smile_webhook_redis: status page') or diag($st->{error});
like($st->{text} // '', qr/^smile_webhook_requests_total\{result="ok"\} 0$/m, 'with its counters');
unlike($st->{text} // '', qr/^smile_webhook_redis/m, 'and no smile_webhook_redis line');

$t->done;
done_testing();
