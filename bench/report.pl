#!/usr/bin/perl
# bench/report.pl - turns the results of bench/run into tables and a plot.
#
#   report.pl WORKDIR DOC
#
# Reads WORKDIR/{results.tsv,floor.txt,meta.txt,versions.txt,checks.txt}
# and, when present, signcost.txt, status.txt, latency.tsv and
# diskfloor.tsv.  Prints the Markdown to
# stdout and, unless DOC is "none", puts it between the markers of the run's
# section (meta.txt "section": "main" is the pair below, NAME the pair
# "BEGIN bench/run NAME output" / "END bench/run NAME output") in DOC
# (creating DOC or the pair if needed; the text outside the markers is left
# alone) and draws DOC's .png sibling (main) or DOC-NAME.png with gnuplot.
#
# Per size and variant: req/s (median, min-max over the rounds), the ratio
# of the medians to plain's, the front worker's CPU per request (median),
# the extra CPU over plain (median of the same-round differences, with
# their min-max), and that extra divided by the
# pre-keyed HMAC-SHA512 floor.  With the dedupe variant next to module: what
# dedupe adds to module (same-round differences) and the ratio of the two
# extras over plain; with the spool variant, what a spool configured with
# the app up adds to module, and the latency pair: a spooled answer (202)
# against nginx's 502 when the app is away, with the disk's floor; with the
# redis variant, what sharing the zone through Redis adds to dedupe (the
# front's CPU and redis-server's, per request) and the latency pair redis
# against dedupe (redis_latency.tsv).  Per
# size, wrk's own CPU per request (and, for a unique-id run, what building
# and signing one request costs it).

use strict;
use warnings;
use File::Basename qw(dirname basename);
use File::Temp qw(tempfile);
use FindBin ();
use lib "$FindBin::RealBin/../tools/lib";
use Smile::Harness::Util ();

my ($work, $doc) = @ARGV;
die "usage: report.pl WORKDIR DOC|none\n" unless defined $doc;

my %ORDER = (plain => 0, module => 1, dedupe => 2, redis => 2.2, spool => 2.5, lua => 3, njs => 4);

my %SHAPE_NAME = ('' => 'long string', records => 'records',
                  deep => 'deep nesting', utf => 'non-ASCII text',
                  esc => 'escapes');
my %SIZE_NAME = (small => 'seed event');
for my $shape (keys %SHAPE_NAME) {
    $SIZE_NAME{"${shape}16k"} = "$SHAPE_NAME{$shape}, 16 KB";
    $SIZE_NAME{"${shape}1m"} = "$SHAPE_NAME{$shape}, 1 MB";
}

# issue 12: the module's extra CPU over plain at most 1.3x the floor at
# 16 KB and 1 MB, and at most about 1 us over the floor at the seed event
my $TARGET_RATIO = 1.3;
my $TARGET_SEED_US = 1.0;
my $ALL_SIZES = 'small 16k 1m records16k records1m deep16k deep1m utf16k '
              . 'utf1m esc16k esc1m';

sub slurp { return Smile::Harness::Util::slurp($_[0]) // '' }

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
my $unique   = ($meta{unique} // 0) eq '1';
my $section  = $meta{section} || 'main';
# tables list dedupe right after module, whatever order the runs had
my @shown    = sort { ($ORDER{$a} // 9) <=> ($ORDER{$b} // 9) } @variants;

my $tag   = $section eq 'main' ? '' : "$section ";
my $BEGIN = "<!-- BEGIN bench/run ${tag}output: everything up to the END marker is rewritten by bench/run -->";
my $END   = "<!-- END bench/run ${tag}output -->";

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

# HMAC-SHA512 costs the same for any body of one length: the bodies of one
# length share the fastest figure measured among them, so that a batch a
# neighbour slowed down does not inflate one body's ratios
my %fastest;    # bytes -> [oneshot, prekeyed, padcopy]
for my $f (values %floor) {
    my $b = $fastest{$f->[0]} //= [@{$f}[1 .. 3]];
    $b->[$_ - 1] = $f->[$_] < $b->[$_ - 1] ? $f->[$_] : $b->[$_ - 1] for 1 .. 3;
}
$floor{$_} = [$floor{$_}[0], @{ $fastest{$floor{$_}[0]} }] for keys %floor;

my %checks;
for (split /\n/, slurp("$work/checks.txt")) {
    my ($v, $s, @r) = split ' ';
    $checks{$v}{$s} = join ' ', @r;
}

my %signcost;    # size -> {build_us, full_hmac_us}
for (split /\n/, slurp("$work/signcost.txt")) {
    my ($size, @kv) = split ' ';
    $signcost{$size} = { map { split /=/, $_, 2 } @kv };
}

my %status;    # variant -> metric line -> value, at the end of the run
for (split /\n/, slurp("$work/status.txt")) {
    my ($v, $k, $n) = split ' ';
    $status{$v}{$k} = $n if defined $n;
}

my %redis_cpu;    # size -> [us of redis-server per request, per run]
for (split /\n/, slurp("$work/redis_cpu.tsv")) {
    my ($rep, $size, $v, $n, $ns) = split /\t/;
    push @{ $redis_cpu{$size} }, $ns / 1000 / $n if $n;
}
my %redis_info = map { split / /, $_, 2 } split /\n/, slurp("$work/redis.txt");

my (%runs, @rows);    # $runs{size}{variant}{rep} = {...}
open my $in, '<', "$work/results.tsv" or die "$work/results.tsv: $!\n";
my $header = <$in>;
while (<$in>) {
    chomp;
    my ($rep, $size, $v, $n, $rps, $ns, $ticks, $busy, $steal, $errors, $wall,
        $wrk_ns) = split /\t/;
    my $run = {
        rep => $rep, size => $size, variant => $v, n => $n, rps => $rps,
        cpu => $ns / 1000 / $n, cpu_ticks => $ticks * 10000 / $n,
        util => $ns / $wall, other => max0(($busy * 1e7 - $ns) / $wall),
        steal => $steal * 1e7 / $wall, errors => $errors,
        wrk_cpu => $wrk_ns ? $wrk_ns / 1000 / $n : undef,
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
    # dedupe and spool against module: what the zone, or a configured spool,
    # adds; same-round differences
    for my $v (qw(dedupe spool)) {
        my ($m, $d) = ($st{$s}{module}, $st{$s}{$v});
        next unless $m && $d;
        my @d;
        for my $rep (keys %{ $runs{$s}{$v} }) {
            my $y = $runs{$s}{module}{$rep} or next;
            push @d, $runs{$s}{$v}{$rep}{cpu} - $y->{cpu};
        }
        $d->{over_module} = @d ? median(@d) : $d->{cpu} - $m->{cpu};
        @{$d}{qw(over_module_min over_module_max)} = @d ? minmax(@d)
            : ($d->{over_module}, $d->{over_module});
        $d->{over_module_rounds} = scalar @d;
        $d->{over_module_pos} = grep { $_ > 0 } @d;
    }
    # redis against dedupe: what sharing the zone adds; same-round differences
    if ($st{$s}{redis} && $st{$s}{dedupe}) {
        my $x = $st{$s}{redis};
        my @d = map { $runs{$s}{redis}{$_}{cpu} - $runs{$s}{dedupe}{$_}{cpu} }
                grep { $runs{$s}{dedupe}{$_} } keys %{ $runs{$s}{redis} };
        $x->{over_dedupe} = median(@d);
        @{$x}{qw(over_dedupe_min over_dedupe_max)} = minmax(@d);
        $x->{over_dedupe_rounds} = scalar @d;
        $x->{redis_cpu} = median(@{ $redis_cpu{$s} // [] });
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
# dedupe's extra CPU over plain divided by module's; only when both are positive
sub extra_ratio {
    my ($d, $m) = @_;
    return '-' unless $m->{extra} > 0 && $d->{extra} > 0;
    return sprintf('%.2fx', $d->{extra} / $m->{extra});
}

my @md;
my $cmd = sprintf 'BENCH_DURATION=%s BENCH_REPEATS=%s BENCH_WARMUP=%s '
                . 'BENCH_CONNECTIONS=%s',
                  @meta{qw(duration repeats warmup connections)};
$cmd .= " BENCH_SIZES=\"$meta{sizes}\"" if $meta{sizes} ne $ALL_SIZES;
$cmd .= " BENCH_VARIANTS=\"$meta{variants}\"" if $meta{variants} ne 'plain module lua njs';
$cmd .= ' BENCH_UNIQUE=1' if $unique;
$cmd .= " BENCH_SECTION=$section" if $section ne ($unique ? 'dedupe' : 'main');
$cmd .= ' make bench';

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
    $unique
    ? 'Load: **a new event id in every request** (`BENCH_UNIQUE=1`, `bench/wrk_unique.lua`), '
    . 'for every variant: the body is the same event with its top-level `id` moved to the end '
    . 'of the object (same length), and wrk puts a new id of the same length there and signs '
    . 'the body itself (HMAC-SHA512 through LuaJIT FFI, see "Load generator" below). Every '
    . 'authentic request is a first delivery, so the `dedupe` variant looks up and inserts '
    . 'an id and forwards every request'
    . ($measured{redis}
       ? '; the `redis` variant is `dedupe` plus `smile_webhook_redis 127.0.0.1:PORT timeout='
       . ($redis_info{timeout} // '?') . '` (redis-server ' . ($redis_info{version} // '?')
       . ' on CPU ' . $meta{load_cpu} . ', with the backend and wrk, no persistence): every '
       . 'request also claims its id in Redis (one `EVAL`, waited for: the request goes on with '
       . 'the reply) and settles it when the answer goes out (a second `EVAL`, not waited for); '
       . 'Redis is emptied (`FLUSHALL`) before each of its runs'
       : '') . '.'
    : 'Load: the same signed body in every request (`bench/wrk.lua`)'
    . ($measured{dedupe}
       ? ', so after its first request the `dedupe` variant answers every request itself '
       . '(200 `duplicate`, not proxied): its row measures that short-cut, not the cost of '
       . 'dedupe. `BENCH_UNIQUE=1` measures the latter.'
       : '.'),
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

# the headline: every body, extra CPU over plain as a multiple of the floor
{
    my @o = grep { $_ ne 'plain' && $measured{$_} } @shown;
    push @md, '', '**Summary**: per body, the extra front CPU per request over plain '
                . '(median of the same-round differences) and its ratio to the pre-keyed '
                . 'HMAC-SHA512 floor, and req/s as a share of plain\'s. Goal (issue 12): '
                . "module at most ${TARGET_RATIO}x the floor at 16 KB and 1 MB, at most about "
                . "$TARGET_SEED_US us over the floor at the seed event, ahead of lua and njs.", '',
        '| body | floor | ' . join(' | ', map { "$_ extra (x floor)" } @o) . ' | '
      . join(' | ', map { "$_ req/s vs plain" } @o) . ' |',
        '|---|--:|' . ('--:|' x (2 * @o));
    for my $s (@sizes) {
        my $f = $floor{$s};
        push @md, sprintf('| %s | %s us | %s | %s |', $SIZE_NAME{$s}, $f ? fus($f->[2]) : '?',
                          join(' | ', map {
                              my $x = $st{$s}{$_};
                              !$x ? '-'
                              : defined $x->{floor_ratio}
                              ? sprintf('%s us (%.2fx)', fsign($x->{extra}), $x->{floor_ratio})
                              : fsign($x->{extra}) . ' us';
                          } @o),
                          join(' | ', map {
                              my $x = $st{$s}{$_};
                              $x ? sprintf('%.2f', $x->{ratio}) : '-';
                          } @o));
    }
}

push @md, '', '**Correctness checks** (status for a good signature, a bad one, none; '
            . '`plain` does not verify and only has to answer 200'
            . ($measured{dedupe} || $checks{dedupe}
               ? '; `dedupe` also gets the good one twice and must forward the first and '
               . 'answer the second itself' : '')
            . ($checks{spool} ? '; `spool` must leave its spool empty (`spooled=0`: the app is up)' : '')
            . ($checks{redis} ? '; `redis` as `dedupe`, and after its checks `smile_webhook_redis_up` 1, '
                              . 'no fallback, the ids in Redis' : '')
            . ($unique
               ? '; then a second of the unique-id load per variant and size: every answer '
               . '2xx, every request at the backend (its `stub_status`), and for the module '
               . 'variants counted `ok` and never `duplicate` by `smile_webhook_status`' : '')
            . '):', '';
for my $v (@shown) {
    my $c = $checks{$v} or next;
    push @md, "* `$v`: " . join('; ', map { "$SIZE_NAME{$_}: $c->{$_}" } grep { $c->{$_} } @sizes)
            . ($c->{server} ? "; Redis: $c->{server}" : '')
            . ($measured{$v} ? '' : ' -- **failed, not measured**');
}

push @md, '', '**HMAC-SHA512 floor** (`bench/hmac_floor`, OpenSSL, on the front core, '
            . 'median of 9 batches; bodies of one length take the fastest figure among them, '
            . 'as HMAC-SHA512 costs the same for any content):', '',
    '| body | bytes | one-shot `HMAC()` | pre-keyed `EVP_MAC` | ipad/opad copy (as the module) |',
    '|---|--:|--:|--:|--:|';
for my $s (@sizes) {
    my $f = $floor{$s} or next;
    push @md, sprintf('| %s | %d | %s us | %s us | %s us |',
                      $SIZE_NAME{$s}, $f->[0], fus($f->[1]), fus($f->[2]), fus($f->[3]));
}

# what wrk spent per request (its CPU time over the requests it completed),
# and for a unique-id run what building and signing one request costs it
my %wrk_cpu;
for my $s (@sizes) {
    my @w = map { $_->{wrk_cpu} } grep { $_->{size} eq $s && defined $_->{wrk_cpu} } @rows;
    $wrk_cpu{$s} = median(@w) if @w;
}
if (%wrk_cpu) {
    push @md, '', "**Load generator** (wrk, one thread on CPU $meta{load_cpu}, which it shares "
                . 'with the backend): its own CPU time per completed request, median of all '
                . 'measured runs of the size'
                . ($unique ? '; and, timed apart in the same wrk (`BENCH_SIGN_BENCH`), what it '
                           . 'spends to build one unique-id request (a new id and its '
                           . 'HMAC-SHA512, from a context pre-fed with the bytes before the id, '
                           . 'written into the request `wrk.format` gave once) and '
                           . 'what a one-shot HMAC over the whole body would cost it (an id in '
                           . 'front of the body leaves nothing to pre-compute)' : '')
                . ':', '';
    if ($unique) {
        push @md, '| body | wrk CPU us/req | build and sign one request | one-shot HMAC of the whole body |',
                  '|---|--:|--:|--:|';
        for my $s (@sizes) {
            my $c = $signcost{$s} // {};
            push @md, sprintf('| %s | %s | %s | %s |', $SIZE_NAME{$s}, fus($wrk_cpu{$s}),
                              defined $c->{build_us} ? fus($c->{build_us}) . ' us' : '-',
                              defined $c->{full_hmac_us} ? fus($c->{full_hmac_us}) . ' us' : '-');
        }
    } else {
        push @md, '| body | wrk CPU us/req |', '|---|--:|';
        push @md, sprintf('| %s | %s |', $SIZE_NAME{$_}, fus($wrk_cpu{$_})) for @sizes;
    }
}

if ($status{dedupe}) {
    my $z = $status{dedupe};
    my $k = sub { $z->{"smile_webhook_$_[0]"} // '?' };
    push @md, '', sprintf('**Dedupe zone** (`smile_webhook_dedupe_zone bench:%s ttl=24h`), at the '
                        . 'end of the run, checks included: %s ids delivered, %s in flight, '
                        . '%s evictions, %s overflows; the dedupe front answered %s requests '
                        . '`ok` (forwarded) and %s `duplicate`%s.',
                          $meta{dedupe_zone} // '?',
                          $k->('dedupe_entries{zone="bench",state="delivered"}'),
                          $k->('dedupe_entries{zone="bench",state="in_flight"}'),
                          $k->('dedupe_evictions_total{zone="bench"}'),
                          $k->('dedupe_overflows_total{zone="bench"}'),
                          $k->('requests_total{result="ok"}'),
                          $k->('requests_total{result="duplicate"}'),
                          $unique ? ' (the checks send each body\'s own id twice: one duplicate per size)'
                                  : '');
}

for my $s (@sizes) {
    my $f = $floor{$s};
    push @md, '', sprintf('### %s (%s bytes)', $SIZE_NAME{$s}, $f ? $f->[0] : '?'), '',
        '| variant | req/s median (min-max) | vs plain | front CPU us/req | '
      . 'extra CPU us/req over plain, median of same-round differences (min-max) | extra / HMAC floor | worker busy |',
        '|---|--:|--:|--:|--:|--:|--:|';
    for my $v (@shown) {
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
    my ($m, $d) = ($st{$s}{module}, $st{$s}{dedupe});
    if ($m && $d) {
        push @md, '', sprintf('%s: %s us/req over module (same-round differences %s .. %s), '
                            . '%+.1f%% of module\'s CPU per request. Extra CPU over plain: '
                            . '%s us with dedupe, %s us without, **with/without %s**; req/s vs '
                            . 'plain: %.2f with, %.2f without.',
                              $unique ? '**dedupe vs module**'
                                      : '**dedupe (duplicate short-cut) vs module**',
                              fsign($d->{over_module}), fsign($d->{over_module_min}),
                              fsign($d->{over_module_max}), 100 * $d->{over_module} / $m->{cpu},
                              fsign($d->{extra}), fsign($m->{extra}),
                              extra_ratio($d, $m), $d->{ratio}, $m->{ratio});
    }
    my ($dd, $rd) = ($st{$s}{dedupe}, $st{$s}{redis});
    if ($dd && $rd && defined $rd->{over_dedupe}) {
        push @md, '', sprintf('**redis vs dedupe** (the zone shared through Redis against the local '
                            . 'zone alone): %s us/req of front CPU over dedupe (same-round differences '
                            . '%s .. %s, more in %d/%d rounds), %+.1f%% of dedupe\'s CPU per request; '
                            . 'redis-server spent %s us per request besides (median of the runs, on '
                            . 'CPU %s); req/s vs plain: %.2f with Redis, %.2f with the local zone.',
                              fsign($rd->{over_dedupe}), fsign($rd->{over_dedupe_min}),
                              fsign($rd->{over_dedupe_max}),
                              scalar(grep { $runs{$s}{dedupe}{$_}
                                            && $runs{$s}{redis}{$_}{cpu} > $runs{$s}{dedupe}{$_}{cpu} }
                                     keys %{ $runs{$s}{redis} }),
                              $rd->{over_dedupe_rounds}, 100 * $rd->{over_dedupe} / $dd->{cpu},
                              fus($rd->{redis_cpu}), $meta{load_cpu}, $rd->{ratio}, $dd->{ratio});
    }
    my $sp = $st{$s}{spool};
    if ($m && $sp) {
        push @md, '', sprintf('**spool (configured, the app up) vs module**: %s us/req over module '
                            . '(same-round differences %s .. %s), %+.1f%% of module\'s CPU per '
                            . 'request; req/s vs plain: %.2f with the spool, %.2f without.',
                              fsign($sp->{over_module}), fsign($sp->{over_module_min}),
                              fsign($sp->{over_module_max}), 100 * $sp->{over_module} / $m->{cpu},
                              $sp->{ratio}, $m->{ratio});
    }
}

# verdicts
push @md, '', '### Targets', '', '| target | measured | verdict |', '|---|---|---|';
for my $s (@sizes) {
    my $m = $st{$s}{module} or next;
    next unless defined $m->{floor_ratio};
    if ($s eq 'small') {
        my $over = $m->{extra} - $floor{$s}[2];
        push @md, sprintf('| %s: module extra CPU <= floor + %.0f us | %s us = floor %s %s us | %s |',
                          $SIZE_NAME{$s}, $TARGET_SEED_US, fsign($m->{extra}),
                          fus($floor{$s}[2]), fsign($over),
                          $over <= $TARGET_SEED_US ? 'met' : '**missed**');
        next;
    }
    push @md, sprintf('| %s: module extra CPU <= %.2fx floor | %s us = %.2fx of %s us | %s |',
                      $SIZE_NAME{$s}, $TARGET_RATIO, fsign($m->{extra}), $m->{floor_ratio},
                      fus($floor{$s}[2]),
                      $m->{floor_ratio} <= $TARGET_RATIO ? 'met' : '**missed**');
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

for my $s (@sizes) {
    my ($m, $d) = ($st{$s}{module}, $st{$s}{dedupe});
    next unless $m && $d;
    my ($n, $k) = ($d->{over_module_rounds}, $d->{over_module_pos});
    push @md, sprintf('| %s: ratios do not regress with dedupe on | req/s vs plain %.2f with, %.2f '
                    . 'without; extra CPU over plain %s vs %s us (ratio %s); dedupe %s us/req over '
                    . 'module (%s .. %s), more in %d/%d rounds | %s |',
                      $SIZE_NAME{$s}, $d->{ratio}, $m->{ratio}, fsign($d->{extra}),
                      fsign($m->{extra}),
                      extra_ratio($d, $m), fsign($d->{over_module}), fsign($d->{over_module_min}),
                      fsign($d->{over_module_max}), $k, $n,
                      !$unique ? 'n/a: every request was a duplicate (run with `BENCH_UNIQUE=1`)'
                      : $n && $k == $n
                      ? sprintf('**costs more in every round**: %s us/req, %+.1f%% of module\'s CPU',
                                fsign($d->{over_module}), 100 * $d->{over_module} / $m->{cpu})
                      : 2 * $k <= $n ? 'met: no regression beyond the round-to-round noise'
                      : '**not shown**: dedupe more expensive in most rounds, not all');
}

for my $s (@sizes) {
    my ($m, $sp) = ($st{$s}{module}, $st{$s}{spool});
    next unless $m && $sp;
    my ($n, $k) = ($sp->{over_module_rounds}, $sp->{over_module_pos});
    push @md, sprintf('| %s: a spool costs nothing while the app is up | spool %s us/req over module '
                    . '(%s .. %s), more in %d/%d rounds; req/s vs plain %.2f with, %.2f without | %s |',
                      $SIZE_NAME{$s}, fsign($sp->{over_module}), fsign($sp->{over_module_min}),
                      fsign($sp->{over_module_max}), $k, $n, $sp->{ratio}, $m->{ratio},
                      $n && $k == $n
                      ? sprintf('**costs more in every round**: %s us/req, %+.1f%% of module\'s CPU',
                                fsign($sp->{over_module}), 100 * $sp->{over_module} / $m->{cpu})
                      : 2 * $k <= $n ? 'met: within the round-to-round noise'
                      : '**not shown**: more in most rounds, not all');
}

# --- the latency of a spooled answer, against nginx's 502 (bench/run's latency pair)

# a latency file of bench/run: {connections}{variant} = [rows]
sub read_latency {
    my ($file) = @_;
    my %l;
    for (split /\n/, slurp($file)) {
        my @f = split /\t/;
        next if $f[0] eq 'rep' || @f < 13;
        my %r;
        @r{qw(rep conns variant n rps non2xx errors avg p50 p75 p90 p99 max)} = @f;
        push @{ $l{ $r{conns} }{ $r{variant} } }, \%r;
    }
    return %l;
}
my %lat = read_latency("$work/latency.tsv");
my %rlat = read_latency("$work/redis_latency.tsv");
my %diskfloor;
my @floor_rows;    # per round: the disk's floor
{
    for (split /\n/, slurp("$work/diskfloor.tsv")) {
        my @f = split /\t/;
        push @floor_rows, +{ map { $_ => shift @f } qw(rep bytes n p50 p90 p99 max) } if $f[0] =~ /^\d+$/;
    }
    if (@floor_rows) {
        %diskfloor = (bytes => $floor_rows[0]{bytes}, n => $floor_rows[0]{n}, rounds => scalar @floor_rows);
        for my $k (qw(p50 p90 p99 max)) {
            $diskfloor{$k} = median(map { $_->{$k} } @floor_rows);
            @diskfloor{ "${k}_min", "${k}_max" } = minmax(map { $_->{$k} } @floor_rows);
        }
    }
}

sub flat {    # microseconds, as a table shows them
    my ($us) = @_;
    return '-' unless defined $us && $us ne '';
    return $us >= 1000 ? sprintf('%.2f ms', $us / 1000) : sprintf('%.0f us', $us);
}

# the rows of a latency pair's table, medians over the rounds per front and
# number of connections, then the ratios $other / $base; $answers->(front,
# requests, non-2xx) says what the runs got
sub latency_rows {
    my ($l, $base, $other, $answers) = @_;
    my @k = qw(rps avg p50 p90 p99 max);
    my @out = ('| connections | front | answers | req/s | mean | p50 | p90 | p99 | max |',
               '|--:|---|---|--:|--:|--:|--:|--:|--:|');
    for my $c (sort { $a <=> $b } keys %$l) {
        my %med;
        for my $v ($base, $other) {
            my $rows = $l->{$c}{$v} or next;
            for my $k (@k) { $med{$v}{$k} = median(map { $_->{$k} } @$rows) }
            my ($n, $non2xx, $err) = (0, 0, 0);
            for (@$rows) { $n += $_->{n}; $non2xx += $_->{non2xx}; $err += $_->{errors} }
            my $got = $answers->($v, $n, $non2xx);
            $got .= ", **$err socket errors**" if $err;
            push @out, sprintf('| %d | %s | %s | %.0f | %s |', $c, $v, $got, $med{$v}{rps},
                               join(' | ', map { flat($med{$v}{$_}) } qw(avg p50 p90 p99 max)));
        }
        next unless $med{$base} && $med{$other};
        push @out, sprintf('| %d | **%s / %s** | | %.2fx | %s |', $c, $other, $base,
                           $med{$other}{rps} / ($med{$base}{rps} || 1),
                           join(' | ', map { sprintf '**%.1fx**', $med{$other}{$_} / ($med{$base}{$_} || 1) }
                                       qw(avg p50 p90 p99 max)));
    }
    return @out;
}

if (%lat) {
    push @md, '', '### What a spooled answer costs the client', '',
        'The app away (`proxy_pass` to a loopback port nothing listens on), the seed event '
      . 'correctly signed, the same request again and again: `down` has no spool, so nginx '
      . 'answers 502 itself; `downspool` has `smile_webhook_spool PATH retry=1h` and answers 202 '
      . '(`spooled`) once a thread of nginx\'s pool has written the record, fsync\'d it, renamed '
      . 'it and fsync\'d the directory (`retry=1h`: no replay runs meanwhile). One worker each on '
      . "CPU $meta{front_cpu}, wrk --latency (1 thread) on CPU $meta{load_cpu}, "
      . "$meta{repeats} rounds of $meta{latency_duration} s per front and number of connections, "
      . 'the two fronts in turn; medians over the rounds. Load average before: '
      . ($meta{latency_loadavg_before} // '?') . ', after: ' . ($meta{latency_loadavg_after} // '?')
      . '. Checks before the runs (one request each): '
      . join('; ', map { "`$_`: $checks{$_}{small}" } grep { $checks{$_} } qw(down downspool))
      . '. The answers column counts what the runs got.', '';
    push @md, latency_rows(\%lat, 'down', 'downspool', sub {
        my ($v, $n, $non2xx) = @_;
        return $v eq 'down' ? ($non2xx == $n ? "$n x 502" : "$n, **" . ($n - $non2xx) . ' not 502**')
                            : ($non2xx ? "$n, **$non2xx not 2xx**" : "$n x 202");
    });
    push @md, '', sprintf('The disk\'s floor, timed by bench/run in the same file system at the end of '
                        . 'each round: a %d-byte record written, fsync\'d, renamed and its directory '
                        . 'fsync\'d, %d times in a row; medians over the %d rounds (min-max): p50 %s '
                        . '(%s-%s), p90 %s, p99 %s (%s-%s), max %s.', $diskfloor{bytes},
                          $diskfloor{n}, $diskfloor{rounds}, flat($diskfloor{p50}),
                          flat($diskfloor{p50_min}), flat($diskfloor{p50_max}), flat($diskfloor{p90}),
                          flat($diskfloor{p99}), flat($diskfloor{p99_min}), flat($diskfloor{p99_max}),
                          flat($diskfloor{max}))
        if %diskfloor;
    my ($c1) = sort { $a <=> $b } keys %lat;
    push @md, '', sprintf('Round by round, %d connection(s): `downspool` p50 %s; `down` p50 %s; the '
                        . 'disk\'s p50 %s.', $c1,
                          map({ my $v = $_; join(', ', map { flat($_->{p50}) }
                                                  sort { $a->{rep} <=> $b->{rep} } @{ $lat{$c1}{$v} }) }
                              qw(downspool down)),
                          join(', ', map { flat($_->{p50}) } @floor_rows))
        if @floor_rows && $lat{$c1}{downspool} && $lat{$c1}{down};
}

# --- the latency of a claim in Redis, against the local zone (the redis pair)

if (%rlat) {
    push @md, '', '### What a claim in Redis costs the client', '',
        'The `dedupe` front (the local zone) and the `redis` front (the same zone shared through '
      . 'Redis), a new correctly signed event id in every request (`bench/wrk_unique.lua`), the '
      . 'seed event, the app up: every request is a first delivery, forwarded to the backend; on '
      . 'the `redis` front it waits first for its claim in Redis (one round trip on loopback to '
      . "redis-server on CPU $meta{load_cpu}). One worker each on CPU $meta{front_cpu}, "
      . "wrk --latency (1 thread) on CPU $meta{load_cpu}, $meta{repeats} rounds of "
      . "$meta{latency_duration} s per front and number of connections, the two fronts in turn "
      . '(Redis emptied before each run of `redis`); medians over the rounds. Load average before: '
      . ($meta{redis_latency_loadavg_before} // '?') . ', after: '
      . ($meta{redis_latency_loadavg_after} // '?') . '. The answers column counts what the runs got.', '';
    push @md, latency_rows(\%rlat, 'dedupe', 'redis', sub {
        my ($v, $n, $non2xx) = @_;
        return $non2xx ? "$n, **$non2xx not 2xx**" : "$n x 200";
    });
    my ($c1) = sort { $a <=> $b } keys %rlat;
    push @md, '', sprintf('Round by round, %d connection(s): `redis` p50 %s; `dedupe` p50 %s.', $c1,
                          map({ my $v = $_; join(', ', map { flat($_->{p50}) }
                                                  sort { $a->{rep} <=> $b->{rep} } @{ $rlat{$c1}{$v} }) }
                              qw(redis dedupe)))
        if $rlat{$c1}{redis} && $rlat{$c1}{dedupe};
    push @md, '', sprintf('Redis at the end: %s keys (the last run\'s ids: each run starts from an '
                        . 'empty Redis), used_memory %.1f MB.', $redis_info{keys} // '?',
                          ($redis_info{used_memory} // 0) / 1048576)
        if %redis_info;
}

my $png = $doc eq 'none' ? undef
        : basename($doc, '.md') . ($section eq 'main' ? '' : "-$section") . '.png';
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
my @others = grep { $_ ne 'plain' && $st{$sizes[0]}{$_} } @shown;
for my $s (@sizes) {
    my @vals = map { $st{$s}{$_} ? $st{$s}{$_}{ratio} : 0 } ('plain', @others);
    my @extra = map { my $x = $st{$s}{$_}; $x ? ($x->{extra} > 0.05 ? $x->{extra} : 0.05) : 0.05 } @others;
    printf {$dfh} "\"%s\" %s %s %s\n", $SIZE_NAME{$s}, join(' ', @vals),
        ($floor{$s} ? $floor{$s}[2] : 1), join(' ', @extra);
}
close $dfh;

my %COLOR = (plain => '#9e9e9e', module => '#1b9e77', dedupe => '#66a61e', spool => '#e7298a',
             redis => '#a6761d',
             lua => '#7570b3', njs => '#d95f02', floor => '#303030');
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
set multiplot layout 1,2 title "Smile webhook verification in nginx: front worker on one core ($meta{date}@{[ $unique ? ', a new event id per request' : '' ]})"
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
Smile::Harness::Util::spew($doc, $text);
print STDERR "bench: wrote $doc and $pngpath\n";
