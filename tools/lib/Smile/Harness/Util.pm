package Smile::Harness::Util;

# What every harness script needs besides processes, HTTP and events: where
# the repository and the built module are, whole files, numbers from the
# environment, and coloured output.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Exporter qw(import);

our @EXPORT_OK = qw(ROOT PROG module_path nginx_path slurp spew env_num
                    bold green red yellow dim section);

# tools/lib/Smile/Harness/Util.pm -> the repository
use constant ROOT => dirname(dirname(dirname(dirname(dirname(
                         abs_path(__FILE__))))));

# the running script as the docs name it: "demo/run", "soak/backend.pl"
use constant PROG => do {
    my $p = abs_path($0) // $0;
    $p =~ s{^\Q${\ROOT}\E/}{};
    $p;
};

sub module_path {
    my ($env) = @_;
    return $ENV{ $env // 'SMILE_MODULE' }
        // ROOT . '/build/ngx_http_smile_webhook_module.so';
}

sub nginx_path { return $ENV{NGINX} // '/usr/sbin/nginx' }

# the bytes of a file, or undef
sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return undef;
    local $/;
    return scalar <$fh>;
}

# replace a file at once (write a sibling, rename): a reader, nginx -s reload
# included, sees the old or the new text, never half of it
sub spew {
    my ($file, $data) = @_;
    open my $fh, '>:raw', "$file.tmp" or die "cannot write $file.tmp: $!\n";
    print {$fh} $data;
    close $fh or die "cannot write $file.tmp: $!\n";
    rename "$file.tmp", $file or die "cannot rename $file.tmp: $!\n";
    return;
}

# $ENV{NAME} as a number in [lo, hi], or the default when unset or empty
sub env_num {
    my ($name, $default, $lo, $hi) = @_;
    my $v = $ENV{$name};
    return $default if !defined $v || $v eq '';
    die PROG . ": $name must be a number between $lo and $hi (got '$v')\n"
        unless $v =~ /^\d+(?:\.\d+)?$/ && $v >= $lo && $v <= $hi;
    return $v + 0;
}

my $COLOR = -t STDOUT && !exists $ENV{NO_COLOR};

sub paint  { my ($code, @s) = @_; my $s = join '', @s;
             return $COLOR ? "\e[${code}m$s\e[0m" : $s }
sub bold   { paint('1', @_) }
sub green  { paint('32', @_) }
sub red    { paint('1;31', @_) }
sub yellow { paint('33', @_) }
sub dim    { paint('2', @_) }

sub section { print "\n", bold("== $_[0] =="), "\n" }

1;
