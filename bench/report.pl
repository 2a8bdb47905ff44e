#!/usr/bin/perl
# bench/report.pl - turns the results of bench/run into tables and a plot.
#
#   report.pl WORKDIR DOC
#
# Reads WORKDIR/{results.tsv,floor.txt,meta.txt,versions.txt,checks.txt}.
# Prints the Markdown to stdout and, unless DOC is "none", puts it between
# the markers below in DOC (creating DOC if needed; the text outside the
# markers is left alone) and draws DOC's .png sibling with gnuplot.
#
# Per size and variant: req/s (median, min-max over the rounds), the ratio
# of the medians to plain's, the front worker's CPU per request (median),
# the extra CPU over plain (median of the same-round differences, with
# their min-max), and that extra divided by the
# pre-keyed HMAC-SHA512 floor.

use strict;
use warnings;
use File::Basename qw(dirname basename);
use File::Temp qw(tempfile);

my ($work, $doc) = @ARGV;
die "usage: report.pl WORKDIR DOC|none\n" unless defined $doc;

my $BEGIN = '<!-- BEGIN bench/run output: everything up to the END marker is rewritten by bench/run -->';
my $END   = '<!-- END bench/run output -->';

my %SIZE_NAME = (small => 'seed event', '16k' => '16 KB', '1m' => '1 MB');
my %TARGET    = (small => 1.5, '16k' => 1.15, '1m' => 1.10);

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return scalar <$fh>;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub max0 { return $_[0] > 0 ? $_[0] : 0 }

sub minmax {
    my @v = sort { $a <=> $b } @_;
    return ($v[0], $v[-1]);
}

# --- inputs ---------------------------------------------------------------

my %meta;
for (split /\n/, slurp("$work/meta.txt")) {
    my ($k, $v) = split / /, $_, 2;
    $meta{$k} = $v // '';
}
my @sizes    = split ' ', $meta{sizes};
my @variants = split ' ', $meta{variants};
my %measured = map { $_ => 1 } split ' ', $meta{measured};

my %versions;
my @pkgs;
my ($kernel, $cpu, $revision) = ('?', '?', '?');
for (split /\n/, slurp("$work/versions.txt")) {
    if (/^pkg (\S+) (.*)$/) { push @pkgs, [$1, $2] }
    elsif (/^kernel (.*)$/) { $kernel = $1 }
    elsif (/^module (.*)$/) { $revision = $1 }
    elsif (/^cpu (.*)$/)    { $cpu = $1 }
}

my %floor;    # size -> [bytes, oneshot, prekeyed, padcopy]
for (split /\n/, slurp("$work/floor.txt")) {
    my ($bytes, $one, $pre, $pad, $file) = split ' ';
    my $size = basename($file, '.json');
    $floor{$size} = [$bytes, $one, $pre, $pad];
}

my %checks;
for (split /\n/, slurp("$work/checks.txt")) {
    my ($v, $s, @r) = split ' ';
    $checks{$v}{$s} = join ' ', @r;
}

my (%runs, @rows);    # $runs{size}{variant}{rep} = {...}
open my $in, '<', "$work/results.tsv" or die "$work/results.tsv: $!\n";
my $header = <$in>;
while (<$in>) {
    chomp;
    my ($rep, $size, $v, $n, $rps, $ns, $ticks, $busy, $steal, $errors, $wall) = split /\t/;
    my $run = {
        rep => $rep, size => $size, variant => $v, n => $n, rps => $rps,
        cpu => $ns / 1000 / $n, cpu_ticks => $ticks * 10000 / $n,
        util => $ns / $wall, other => max0(($busy * 1e7 - $ns) / $wall),
        steal => $steal * 1e7 / $wall, errors => $errors,
    };
    $runs{$size}{$v}{$rep} = $run;
    push @rows, $run;
}
close $in;

# --- statistics -------------------------------------------------------------

my %st;    # $st{size}{variant}{...}
for my $s (@sizes) {
    for my $v (@variants) {
        next unless $runs{$s}{$v};
        my @r = values %{ $runs{$s}{$v} };
        my %x;
        $x{rps}      = median(map { $_->{rps} } @r);
        @x{qw(rps_min rps_max)} = minmax(map { $_->{rps} } @r);
        $x{cpu}      = median(map { $_->{cpu} } @r);
        @x{qw(cpu_min cpu_max)} = minmax(map { $_->{cpu} } @r);
        $x{cpu_ticks} = median(map { $_->{cpu_ticks} } @r);
        $x{util}     = median(map { $_->{util} } @r);
        $x{errors}   = 0;
        $x{errors}  += $_->{errors} for @r;
        $x{runs}     = scalar @r;
        $st{$s}{$v}  = \%x;
    }
    my $plain = $st{$s}{plain} or next;
    for my $v (@variants) {
        my $x = $st{$s}{$v} or next;
        $x->{ratio} = $x->{rps} / $plain->{rps};
        my @d;
        for my $rep (keys %{ $runs{$s}{$v} }) {
            my $p = $runs{$s}{plain}{$rep} or next;
            push @d, $runs{$s}{$v}{$rep}{cpu} - $p->{cpu};
        }
        # same-round differences: the rounds drift, the runs of one round
        # are seconds apart
        $x->{extra} = @d ? median(@d) : $x->{cpu} - $plain->{cpu};
        @{$x}{qw(extra_min extra_max)} = @d ? minmax(@d) : ($x->{extra}, $x->{extra});
        if ($floor{$s}) {
            $x->{floor_ratio} = $x->{extra} / $floor{$s}[2];
        }
    }
}

# --- Markdown ---------------------------------------------------------------

sub f1 { my ($x) = @_; return defined $x ? sprintf('%.1f', $x) : '-' }
sub fus {
    my ($x) = @_;
    return '-' unless defined $x;
    return sprintf('%.0f', $x) if abs($x) >= 100;
    return sprintf('%.1f', $x) if abs($x) >= 10;
    return sprintf('%.2f', $x);
}
sub fsign { my ($x) = @_; my $s = fus($x); return $x >= 0 ? "+$s" : $s }

my @md;
my $cmd = sprintf 'BENCH_DURATION=%s BENCH_REPEATS=%s BENCH_WARMUP=%s '
                . 'BENCH_CONNECTIONS=%s make bench',
                  @meta{qw(duration repeats warmup connections)};

push @md, "Measured $meta{date} with `$cmd` (that is, `bench/run`), "
        . "on $cpu, kernel $kernel; module at commit $revision.",
    '',
    "Front nginx: one worker pinned to CPU $meta{front_cpu}; backend nginx and "
  . "wrk (1 thread, $meta{connections} keepalive connections) on CPU "
  . "$meta{load_cpu}. Warm-up $meta{warmup} s per size and variant, then "
  . "$meta{repeats} rounds of $meta{duration} s runs, each round running "
  . "every size and, within it, the variants in the order "
  . join(', ', grep { $measured{$_} } @variants) . '.',
    '',
    "Load average before the run: $meta{loadavg_before} "
  . "(after: $meta{loadavg_after}, which includes the benchmark itself); "
  . sprintf("the measured part took %.1f minutes.", (($meta{finished} // 0) - ($meta{started} // 0)) / 60);

my @other = map { $_->{other} } @rows;
my @steal = map { $_->{steal} } @rows;
if (@other) {
    my ($omin, $omax) = minmax(@other);
    push @md, '',
        sprintf('CPU %s time not spent in the front worker during the runs '
              . '(other processes, interrupts, softirqs; jiffy resolution): median %.1f%%, max %.1f%% '
              . 'of the core; steal: median %.1f%%, max %.1f%%.',
                $meta{front_cpu}, 100 * median(@other), 100 * $omax,
                100 * median(@steal), 100 * (minmax(@steal))[1]);
}

push @md, '', '**Correctness checks** (status for a good signature, a bad one, none; '
            . '`plain` does not verify and only has to answer 200):', '';
for my $v (@variants) {
    my $c = $checks{$v} or next;
    push @md, "* `$v`: " . join('; ', map { "$SIZE_NAME{$_}: $c->{$_}" } grep { $c->{$_} } @sizes)
            . ($measured{$v} ? '' : ' -- **failed, not measured**');
}

push @md, '', '**HMAC-SHA512 floor** (`bench/hmac_floor`, OpenSSL, on the front core, '
            . 'median of 9 batches):', '',
    '| body | bytes | one-shot `HMAC()` | pre-keyed `EVP_MAC` | ipad/opad copy (as the module) |',
    '|---|--:|--:|--:|--:|';
for my $s (@sizes) {
    my $f = $floor{$s} or next;
    push @md, sprintf('| %s | %d | %s us | %s us | %s us |',
                      $SIZE_NAME{$s}, $f->[0], fus($f->[1]), fus($f->[2]), fus($f->[3]));
}

for my $s (@sizes) {
    my $f = $floor{$s};
    push @md, '', sprintf('### %s (%s bytes)', $SIZE_NAME{$s}, $f ? $f->[0] : '?'), '',
        '| variant | req/s median (min-max) | vs plain | front CPU us/req | '
      . 'extra CPU us/req over plain, median of same-round differences (min-max) | extra / HMAC floor | worker busy |',
        '|---|--:|--:|--:|--:|--:|--:|';
    for my $v (@variants) {
        my $x = $st{$s}{$v};
        if (!$x) {
            push @md, "| $v | not measured | | | | | |";
            next;
        }
        my $extra = $v eq 'plain' ? '-'
                  : sprintf('%s (%s .. %s)', fsign($x->{extra}),
                            fsign($x->{extra_min}), fsign($x->{extra_max}));
        my $fr = ($v eq 'plain' || !defined $x->{floor_ratio}) ? '-'
               : sprintf('%.2fx', $x->{floor_ratio});
        push @md, sprintf('| %s | %.0f (%.0f-%.0f) | %.2f | %s | %s | %s | %.0f%% |',
                          $v, $x->{rps}, $x->{rps_min}, $x->{rps_max}, $x->{ratio},
                          fus($x->{cpu}), $extra, $fr, 100 * $x->{util})
                . ($x->{errors} ? " **$x->{errors} errors**" : '');
    }
    push @md, '', sprintf('Floor: %s us pre-keyed, %s us one-shot.',
                          fus($f->[2]), fus($f->[1])) if $f;
}

# verdicts
push @md, '', '### Targets', '', '| target | measured | verdict |', '|---|---|---|';
for my $s (@sizes) {
    my $m = $st{$s}{module} or next;
    next unless defined $m->{floor_ratio};
    push @md, sprintf('| %s: module extra CPU <= %.2fx floor | %s us = %.2fx of %s us | %s |',
                      $SIZE_NAME{$s}, $TARGET{$s}, fsign($m->{extra}), $m->{floor_ratio},
                      fus($floor{$s}[2]),
                      $m->{floor_ratio} <= $TARGET{$s} ? 'met' : '**missed**');
}
for my $s (@sizes) {
    my $m = $st{$s}{module} or next;
    for my $o (qw(lua njs)) {
        my $x = $st{$s}{$o};
        if (!$x) {
            push @md, "| $SIZE_NAME{$s}: module beats $o | $o not measured | - |";
            next;
        }
        my $cpu_ok = $m->{cpu} < $x->{cpu};
        my $rps_ok = $m->{rps} > $x->{rps};
        my ($n, $wc, $wr) = (0, 0, 0);
        for my $rep (keys %{ $runs{$s}{module} }) {
            my $y = $runs{$s}{$o}{$rep} or next;
            $n++;
            $wc++ if $runs{$s}{module}{$rep}{cpu} < $y->{cpu};
            $wr++ if $runs{$s}{module}{$rep}{rps} > $y->{rps};
        }
        push @md, sprintf('| %s: module beats %s (CPU/req, req/s) | medians %s vs %s us, %.0f vs %.0f req/s; '
                        . 'module ahead in %d/%d rounds on CPU, %d/%d on req/s | %s |',
                          $SIZE_NAME{$s}, $o, fus($m->{cpu}), fus($x->{cpu}),
                          $m->{rps}, $x->{rps}, $wc, $n, $wr, $n,
                          !($cpu_ok && $rps_ok)
                          ? '**missed** (' . join(', ', ($cpu_ok ? () : 'CPU'), ($rps_ok ? () : 'req/s')) . ')'
                          : (2 * $wc > $n && 2 * $wr > $n) ? 'met'
                          : '**not shown**: medians ahead, rounds split (within the noise)');
    }
}

my $png = $doc eq 'none' ? undef : basename($doc, '.md') . '.png';
push @md, '', "![req/s relative to plain, and extra front CPU per request over plain next to the HMAC-SHA512 floor]($png)"
    if $png;

push @md, '', 'Package versions:', '',
    join(', ', map { "`$_->[0]` $_->[1]" } @pkgs) . '.';

push @md, '', '<details><summary>Every measured run</summary>', '',
    '| round | size | variant | requests | req/s | CPU us/req (schedstat) | CPU us/req (utime+stime) | worker busy | other on front core | errors |',
    '|--:|---|---|--:|--:|--:|--:|--:|--:|--:|';
for my $r (sort { $a->{rep} <=> $b->{rep} } @rows) {
    push @md, sprintf('| %s | %s | %s | %d | %.0f | %s | %s | %.0f%% | %.1f%% | %d |',
                      $r->{rep}, $SIZE_NAME{$r->{size}}, $r->{variant}, $r->{n}, $r->{rps},
                      fus($r->{cpu}), fus($r->{cpu_ticks}), 100 * $r->{util},
                      100 * $r->{other}, $r->{errors});
}
push @md, '', '</details>';

my $md = join("\n", @md) . "\n";
print $md;

exit 0 if $doc eq 'none';

# --- plot -------------------------------------------------------------------

my $pngpath = dirname($doc) . "/$png";
my ($dfh, $dat) = tempfile('smile-bench-XXXXXX', TMPDIR => 1, SUFFIX => '.dat', UNLINK => 1);
my @others = grep { $_ ne 'plain' && $st{$sizes[0]}{$_} } @variants;
for my $s (@sizes) {
    my @vals = map { $st{$s}{$_} ? $st{$s}{$_}{ratio} : 0 } ('plain', @others);
    my @extra = map { my $x = $st{$s}{$_}; $x ? ($x->{extra} > 0.05 ? $x->{extra} : 0.05) : 0.05 } @others;
    printf {$dfh} "\"%s\" %s %s %s\n", $SIZE_NAME{$s}, join(' ', @vals),
        ($floor{$s} ? $floor{$s}[2] : 1), join(' ', @extra);
}
close $dfh;

my %COLOR = (plain => '#9e9e9e', module => '#1b9e77', lua => '#7570b3',
             njs => '#d95f02', floor => '#303030');
my $nv = 1 + @others;
my @names = ('plain', @others);
my @t1 = map { sprintf('%s using %d%s title "%s" lc rgb "%s"',
                       $_ == 0 ? "\"$dat\"" : "''", 2 + $_, $_ == 0 ? ':xtic(1)' : '',
                       $names[$_], $COLOR{$names[$_]} // '#000000') } 0 .. $#names;
my @t2 = ((sprintf '"%s" using %d:xtic(1) title "HMAC-SHA512 floor (pre-keyed)" lc rgb "%s"',
                   $dat, 2 + $nv, $COLOR{floor}),
          map { sprintf(q{'' using %d title "%s" lc rgb "%s"}, 3 + $nv + $_, $others[$_],
                        $COLOR{$others[$_]} // '#000000') } 0 .. $#others);
my $sep = ", \\\n     ";

my $gp = <<"EOF";
set terminal pngcairo size 1200,500 font "sans,10" noenhanced
set output "$pngpath"
set multiplot layout 1,2 title "Smile webhook verification in nginx: front worker on one core ($meta{date})"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set key top right opaque
set grid ytics
set title "Throughput relative to plain proxy_pass (median req/s)"
set ylabel "req/s / plain req/s"
set yrange [0:1.2]
plot @{[ join($sep, @t1) ]}
set title "Extra front-worker CPU per request over plain (us, log scale)"
set ylabel "microseconds"
set key top left opaque
set logscale y
set yrange [0.1:100000]
plot @{[ join($sep, @t2) ]}
unset multiplot
EOF

open my $g, '|-', 'gnuplot' or die "gnuplot: $!\n";
print {$g} $gp;
close $g or warn "gnuplot failed\n";

# --- the document -------------------------------------------------------------

my $text = slurp($doc);
if ($text eq '') {
    $text = "# Benchmarks\n\n$BEGIN\n$END\n";
}
if ($text !~ /\Q$BEGIN\E.*?\Q$END\E/s) {
    $text .= "\n$BEGIN\n$END\n";
}
$text =~ s/\Q$BEGIN\E.*?\Q$END\E/$BEGIN\n\n$md\n$END/s;
open my $out, '>', $doc or die "$doc: $!\n";
print {$out} $text;
close $out or die "$doc: $!\n";
print STDERR "bench: wrote $doc and $pngpath\n";
