package Smile::Harness::Cluster;

# nginx nodes with the module that share one Redis (smile_webhook_redis),
# in front of one app, as the Redis tests (t/011-*.t and after) and the
# demo's two-node scene run them. Each node is an nginx of its own (master
# and two workers, its own prefix, port, dedupe zone and spool directory)
# started by a Supervisor; the app is demo/backend.pl.
#
#   my $app = start_app($sv, "$work/app.log");          # {port, log, name}
#   my $a = start_node($sv, name => 'a', dir => "$work/a", app => $app,
#                      redis => "127.0.0.1:$port timeout=1s");
#   my $r = deliver($a, $body);       # {status, result, body} or {error}
#   app_got($app, $id);               # the app's lines for that event id
#   node_metric($a, 'smile_webhook_redis_up');
#   log_lines($a, qr/is unreachable/);
#   stop_node($sv, $a);               # QUIT: it finishes what it has
#
# Options of start_node: name, dir (the prefix), app ({port}), redis (the
# arguments of smile_webhook_redis, or undef for none), nginx, module,
# error_level (info), retry (the spool's retry=, 1s), keep (its keep=,
# 1h), ttl (the dedupe zone's, 1h), dedupe (0: the location has none),
# workers (2), more_http (lines added to http{}), wrap and seconds (as
# Supervisor::start_nginx: valgrind, say).
# Its location /hook has smile_webhook on, the dedupe zone "ids" and the
# spool DIR/spool, and answers carry X-Smile-Result: $smile_webhook_result;
# /status is smile_webhook_status.

use strict;
use warnings;

use Exporter qw(import);
use Smile::Harness::Events qw($SECRET sign);
use Smile::Harness::HTTP qw(http_request unesc);
use Smile::Harness::Status qw(read_status metric);
use Smile::Harness::Util qw(ROOT module_path nginx_path slurp spew);

our @EXPORT_OK = qw(start_app nginx_conf node_conf start_node stop_node deliver app_got
                    node_status node_metric log_lines);

# demo/backend.pl, known to the Supervisor as $o{name} ("app"), on a free
# port, or on $o{port} (the app coming back after an outage, appending to
# the same log); its log gets one line per request
sub start_app {
    my ($sv, $log, %o) = @_;
    my $name = $o{name} // 'app';
    $sv->spawn($name, log => $log,
               cmd => [ $^X, ROOT . '/demo/backend.pl', $o{port} // 0 ]);
    my $p = $o{port}
        ? ($sv->wait_for_port($name, $o{port}, 15) ? $o{port} : undef)
        : $sv->wait_for_output($name, $log, qr/listening on 127\.0\.0\.1:(\d+)/, 15);
    $sv->setup_failed("the app (demo/backend.pl) did not start", slurp($log))
        unless $p;
    return { port => $p, log => $log, name => $name };
}

# an nginx.conf for prefix $o{dir}: master and $o{workers} (2) workers in
# the foreground, the module loaded, its logs and temporary files in the
# prefix, and $o{http} in http{} ($o{title}: its first comment)
sub nginx_conf {
    my (%o) = @_;
    my $dir = $o{dir};
    my $temp = join '', map { "    ${_}_temp_path $dir/${_}_temp;\n" }
        qw(client_body proxy fastcgi uwsgi scgi);
    return <<"EOF";
# written by tools/lib/Smile/Harness/Cluster.pm: $o{title}
daemon off;
master_process on;
worker_processes ${\ ($o{workers} // 2) };
pid $dir/nginx.pid;
error_log $dir/error.log ${\ ($o{error_level} // 'info') };
load_module ${\ ($o{module} // module_path()) };

events {
    worker_connections 256;
}

http {
$temp
$o{http}
}
EOF
}

sub node_conf {
    my (%o) = @_;
    my $dir = $o{dir};
    my $redis = defined $o{redis} ? "smile_webhook_redis $o{redis};" : '# no smile_webhook_redis';
    return nginx_conf(%o, title => "node $o{name}", http => <<"EOF");
    log_format smile '\$msec \$remote_addr \$status result=\$smile_webhook_result '
                     'id=\$smile_event_id up=\$upstream_status pid=\$pid';
    access_log $dir/access.log smile;

    $redis
    smile_webhook_dedupe_zone ids:1m ttl=${\ ($o{ttl} // '1h') };
${\ ($o{more_http} // '') }
    server {
        listen 127.0.0.1:$o{port};

        location = /hook {
            smile_webhook on;
            smile_webhook_secret "$SECRET";
            smile_webhook_allow 127.0.0.1;
            ${\ (($o{dedupe} // 1) ? 'smile_webhook_dedupe ids;' : '# no dedupe') }
            smile_webhook_spool $dir/spool retry=${\ ($o{retry} // '1s') } keep=${\ ($o{keep} // '1h') };
            add_header X-Smile-Result \$smile_webhook_result always;
            proxy_pass http://127.0.0.1:$o{app}{port};
        }

        location = /status {
            smile_webhook_status;
        }
    }
EOF
}

# a node: {name, dir, port, spool, conf, nginx, sv}
sub start_node {
    my ($sv, %o) = @_;
    my $dir = $o{dir};
    -d $dir or mkdir $dir or $sv->setup_failed("cannot make $dir: $!");
    chmod 0755, $dir;
    my $node = { name => $o{name}, dir => $dir, spool => "$dir/spool",
                 conf => "$dir/nginx.conf", nginx => $o{nginx} // nginx_path(),
                 proc => "nginx-$o{name}" };
    $node->{port} = $sv->start_nginx(
        name => $node->{proc}, nginx => $node->{nginx}, prefix => $dir,
        conf => $node->{conf}, wrap => $o{wrap}, seconds => $o{seconds},
        write => sub { spew($node->{conf}, node_conf(%o, port => $_[0])) });
    return $node;
}

# QUIT: the node finishes its requests and exits (TERM after $grace s)
sub stop_node {
    my ($sv, $node, $grace) = @_;
    return $sv->stop($node->{proc}, sig => 'QUIT', grace => $grace // 10);
}

# one signed event to a node's /hook: {status, result, body} or {error}
sub deliver {
    my ($node, $body, %o) = @_;
    my $r = http_request(port => $node->{port}, uri => '/hook', body => $body,
                         timeout => $o{timeout} // 10, agent => 'smile-cluster',
                         headers => [ [ 'Smile-Signature', sign($body) ],
                                      @{ $o{headers} // [] } ]);
    $r->{result} = $r->{headers}{'x-smile-result'} // '' unless $r->{error};
    return $r;
}

# the app's log lines for an event id: [{id, attempt, line}, ...]
sub app_got {
    my ($app, $id) = @_;
    my @got;
    for my $l (split /\n/, slurp($app->{log}) // '') {
        my ($i) = $l =~ /^\[backend\] #\S+ \S+ \S+ .*?\bid=(\S+)/ or next;
        next unless unesc($i) eq $id;
        my ($attempt) = $l =~ /\battempt=(\d+)/;
        push @got, { id => $id, attempt => $attempt, line => $l };
    }
    return @got;
}

sub node_status {
    my ($node) = @_;
    return read_status(port => $node->{port}, uri => '/status', agent => 'smile-cluster');
}

# a metric of the node's status page (labels as Status::metric), or undef
sub node_metric {
    my ($node, $name, %labels) = @_;
    my $st = node_status($node);
    return undef if $st->{error};
    return metric($st->{metrics}, $name, %labels);
}

# the lines of the node's error log (and what nginx wrote before opening
# it) that match $re
sub log_lines {
    my ($node, $re) = @_;
    my $text = (slurp("$node->{dir}/nginx.stderr") // '')
             . (slurp("$node->{dir}/error.log") // '');
    return grep { $_ =~ $re } split /\n/, $text;
}

1;
