package Test::Nginx::Socket;

# Compact, independent re-implementation of Test::Nginx::Socket (from the
# openresty/test-nginx framework) for machines where the real one cannot be
# installed.  Test files written for the real framework are used unchanged:
#
#     use Test::Nginx::Socket 'no_plan';   # or: plan tests => N
#     run_tests();
#     __DATA__
#     === TEST 1: ...
#
# Semantics (request building, response parsing, which checks run and how
# many subtests each produces) follow the real framework; see README.md next
# to the lib/ directory for the list of supported sections and the
# deliberate differences (none of them is more lenient).
#
# NB: Spiffy's "-Base" source filter turns every "sub foo {" (no
# prototype) into a method; all subs here therefore carry a prototype.

use lib 'lib';
use lib 'inc';

use v5.10.1;
use Test::Base -Base;

our $VERSION = '0.32_compat1';

use Encode ();
use Time::HiRes qw(sleep time);
use Test::LongString;
use List::Util qw(min);
use IO::Socket::INET ();
use Digest::MD5 ();
use Digest::SHA ();
use HTTP::Response ();
use JSON::PP ();
use POSIX qw(EAGAIN EWOULDBLOCK EINTR WNOHANG);

use Test::Nginx::Util;

our @EXPORT = qw( env_to_nginx is_str plan run_tests run_test
  repeat_each config_preamble worker_connections
  master_process_enabled
  no_long_string workers master_on master_off
  log_level no_shuffle no_root_location use_hup
  server_name
  server_addr server_root html_dir server_port server_port_for_client
  timeout no_nginx_manager check_accum_error_log
  add_block_preprocessor bail_out add_test_cleanup_handler add_cleanup_handler
  add_response_body_check
);

# sections a block preprocessor consumes itself (see README)
our @ExtraSections;

our @ResponseBodyChecks;

sub value_contains ($$);
sub send_request ($$$$@);
our $TotalConnectingTimeouts = 0;

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

sub no_ending () {
    Test::More->builder->no_ending(1);
}

#===========================================================================
# Building the request bytes
#===========================================================================

# Split the "--- request" text into its parts.  The first line is
# "METHOD [URI [VERSION]]" (URI defaults to "/", VERSION to HTTP/1.1); the
# rest is the request body.  Sizes are kept so that the text can be
# rewritten in place (see edit_packets) even when it is split into packets.
sub parse_request ($$) {
    my ($name, $text) = @_;

    my ($first, $rest) = $$text =~ /\A([^\n]*\n?)(.*)\z/s;
    if (!$first) {
        bail_out("$name - Request line should be non-empty");
    }

    my @m = $first =~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/;
    if (!@m) {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' but got \"$first\".");
    }
    my ($lead, $meth, $gap1, $url, $gap2, $ver, $gap3, $eol) = @m;

    my %r = (
        method     => $meth,
        lead_size  => length $lead,
        gap1_size  => length $gap1,
        content    => $rest,
    );

    if (defined $url) {
        @r{qw(url url_size gap2_size)} = ($url, length $url, length $gap2);
    } else {
        @r{qw(url url_size gap2_size)} = ('/', 0, 0);
    }

    if (defined $ver) {
        @r{qw(http_ver ver_size gap3_size)} = ($ver, length $ver, length $gap3);
    } else {
        @r{qw(http_ver ver_size gap3_size)} = ('HTTP/1.1', 0, 0);
    }
    $r{gap3_size} += length $eol;

    return \%r;
}

# Apply a list of edits ({del => n} or {len => n, new => str}) to a text
# that is given as a list of packets, keeping the packet boundaries: a
# replacement that straddles a boundary is spread over the packets by the
# original lengths, the remainder going into the last one.  (A deletion that
# straddles a boundary only removes whole following packets - the real
# framework behaves the same way.)
sub edit_packets ($$) {
    my ($packets, $edits) = @_;

    my @in = @$packets;
    my @todo = map { { %$_ } } @$edits;
    my @out;

    my $pkt = shift @in;
    my $edit = shift @todo;
    my $pos = 0;

    while (defined $pkt) {
        if (!defined $edit) {
            push @out, $pkt;
            $pkt = shift @in;
            $pos = 0;
            next;
        }

        my $avail = length($pkt) - $pos;

        if (exists $edit->{del}) {
            if ($edit->{del} > $avail) {
                $edit->{del} -= $avail;
                push @out, $pkt if $pos > 0;
                $pkt = shift @in;
                $pos = 0;
            } else {
                substr($pkt, $pos, $edit->{del}) = '';
                $edit = shift @todo;
            }
            next;
        }

        if ($edit->{len} > $avail) {
            my $part = substr($edit->{new}, 0, $avail);
            $edit->{len} -= $avail;
            substr($pkt, $pos) = $part;
            push @out, $pkt;
            $edit->{new} = substr($edit->{new}, length $part);
            $pkt = shift @in;
            $pos = 0;
        } else {
            substr($pkt, $pos, $edit->{len}) = $edit->{new};
            $pos += length $edit->{new};
            $edit = shift @todo;
        }
    }

    return \@out;
}

# Turn the packets of one "--- request" entry into the wire format:
#   METHOD SP URI SP VERSION CRLF
#   [Host: localhost CRLF]            unless given in more_headers
#   [Connection: close|keep-alive]    unless given in more_headers
#   more_headers
#   [Content-Length: n CRLF]          body non-empty, not chunked, and no
#                                     "Content-Length:" in more_headers;
#                                     the body is then also trimmed
#   CRLF body
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $packets) = @_;

    my $whole = join '', map { defined $_ ? $_ : '' } @$packets;
    my $req = parse_request($name, \$whole);

    my $content = $req->{content};
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn_header\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    my @edits = (
        { del => $req->{lead_size} },
        { len => length $req->{method}, new => "$req->{method} " },
        { del => $req->{gap1_size} },
        { len => $req->{url_size}, new => "$req->{url} " },
        { del => $req->{gap2_size} },
        { len => $req->{ver_size}, new => "$req->{http_ver}\r\n" },
        { del => $req->{gap3_size} },
        { len => 0, new => $headers },
        { len => length $req->{content}, new => $content },
    );

    return edit_packets([map { defined $_ ? $_ : '' } @$packets], \@edits);
}

# "--- more_headers" text -> ("Key: value\r\n"..., is_chunked).  Lines
# starting with "#" are comments; repeated names are kept (sent repeatedly).
sub parse_more_headers ($) {
    my $in = shift;
    my $out = '';
    my $is_chunked;
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

sub headers_for_request ($$$) {
    my ($more_headers, $idx, $what) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $h = $more_headers->[$idx];
        bail_out("--- more_headers lacks data for the $what") unless defined $h;
        return parse_more_headers($h);
    }
    return parse_more_headers($more_headers);
}

# -> [ [ {value => bytes, delay_before => secs}, ... ] (one per connection), ... ]
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;
    my @req_list;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        if (ref $raw && ref $raw eq 'ARRAY') {
            push @req_list, [ map { { value => $_ } } @$raw ];
        } else {
            push @req_list, [ { value => $raw } ];
        }
        return \@req_list;
    }

    my $request;
    if (defined $block->request_eval) {
        diag "$name - request_eval DEPRECATED. Use request eval instead.";
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request) {
            # drop leading blank space and "# comment" lines
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more_headers = $block->more_headers || '';

    if ($block->pipelined_requests) {
        my $reqs = $block->pipelined_requests;
        if (!ref $reqs || ref $reqs ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }
        my $wire = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($hdr, $chunked)
                = headers_for_request($more_headers, $i, "$i pipelined request");
            # 0.32 expands $TEST_NGINX_* in pipelined requests (only)
            my $req = expand_env_in_text($reqs->[$i], $name,
                                         $Test::Nginx::Util::RandPorts);
            my $pk = build_request_from_packets($name, $hdr, $chunked, $conn,
                                                [ $req ]);
            $wire .= $pk->[0];
        }
        push @req_list, [ { value => $wire } ];
        return \@req_list;
    }

    if (!ref $request) {
        my ($hdr, $chunked) = headers_for_request($more_headers, 0, "request");
        my $pk = build_request_from_packets($name, $hdr, $chunked, 'close', [ $request ]);
        push @req_list, [ { value => $pk->[0] } ];
        return \@req_list;
    }

    if (ref $request ne 'ARRAY') {
        bail_out("$name - invalid ---request : MUST be string or array of requests");
    }

    my $i = 0;
    for my $one (@$request) {
        my ($hdr, $chunked) = headers_for_request($more_headers, $i, "${i}th request");

        if (!ref $one) {
            my $pk = build_request_from_packets($name, $hdr, $chunked, 'close', [ $one ]);
            push @req_list, [ { value => $pk->[0] } ];

        } elsif (ref $one eq 'ARRAY') {
            # one request given as a series of packets
            my @raw;
            for my $p (@$one) {
                if (!ref $p) {
                    push @raw, $p;
                } elsif (ref $p eq 'HASH') {
                    push @raw, $p->{value};
                } else {
                    bail_out("$name - Invalid syntax. $p should be a string or hash with value.");
                }
            }
            my $built = build_request_from_packets($name, $hdr, $chunked, 'close', \@raw);
            my @bits;
            for my $k (0 .. $#$built) {
                if (ref $one->[$k]) {
                    $one->[$k]{value} = $built->[$k];
                    push @bits, $one->[$k];
                } else {
                    push @bits, { value => $built->[$k] };
                }
            }
            push @req_list, \@bits;

        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an array of packets.");
        }
        $i++;
    }

    return \@req_list;
}

#===========================================================================
# Running one repetition of a block
#===========================================================================

sub quote_sh_args ($) {
    my $args = shift;
    my @q;
    for my $arg (@$args) {
        my $a = $arg;
        if ($a =~ m{^[- "&%;,|?*.+=\w:/()]*$}) {
            $a = "'$a'" if $a =~ /[ "&%;,|?*()]/;
        } else {
            $a =~ s/\\/\\\\/g;
            $a =~ s/'/\\'/g;
            $a =~ s/\n/\\n/g;
            $a =~ s/\r/\\r/g;
            $a =~ s/\t/\\t/g;
            $a = "\$'$a'";
        }
        push @q, $a;
    }
    return "@q";
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;

    if (ref $filter && ref $filter eq 'CODE') {
        return $filter->($content);
    }
    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section "
                 . "only supports subroutine reference values and string values");
    }

    my %builtin = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", "
                    . "specified in the --- response_body_filters section");
    return $f->($content);
}

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    if (!@$reqs) {
        bail_out("$name - request empty");
    }

    if (defined $block->curl) {
        my $cmd = gen_curl_cmd_from_req($block, $reqs->[0]);
        warn "# ", quote_sh_args($cmd), "\n";
    }

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() unless defined $timeout;
    if ($Test::Nginx::Util::UseValgrind) {
        $timeout *= $Test::Nginx::Util::ValgrindTimeoutFactor;
    }

    my ($res, $need_array, $n);
    my $req_idx = 0;

    for my $one_req (@$reqs) {
        my ($raw_resp, $head_req) = send_request($one_req,
                                                 $block->raw_request_middle_delay,
                                                 $timeout, $block);

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        while (1) {    # once per response (several for pipelined requests)
            $raw_resp = '' unless defined $raw_resp;

            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, "OK", [], $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if ($left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk in ",
                         "response: \"$l\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $req_idx, $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {
                sleep($block->wait) if $block->wait;
                check_error_log($block, $res, 0, $repeated_req_idx, $need_array);
                check_access_log($block, $repeated_req_idx)
                    unless defined $block->ignore_response;
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep($block->wait) if $block->wait;

    check_error_log($block, $res, 0, $repeated_req_idx, $need_array);
    check_access_log($block, $repeated_req_idx) unless defined $block->ignore_response;
}

# value of a "check" section for response #idx; arrays are mandatory when
# the block sends several requests
sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    my $is_array = ref $value && ref $value eq 'ARRAY';
    if ($need_array) {
        return $value->[$idx] if $is_array;
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    if ($is_array) {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.") if $idx != 0;
        return $value->[0];
    }
    return $value;
}

#===========================================================================
# Response checks
#===========================================================================

sub check_error_code ($$$$) {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $val = get_indexed_value($name, $block->error_code_like, $idx, $need_array);
        like($code, qr/$val/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($code, get_indexed_value($name, $block->error_code, $idx, $need_array),
           "$name - status code ok");
    } else {
        is($code, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$) {
    my ($block, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_like,
                                    $idx, $need_array);
        like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }

    if (defined $block->raw_response_headers_unlike) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_unlike,
                                    $idx, $need_array);
        unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

sub check_response_headers ($$$$$) {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $expected = parse_headers(get_indexed_value($name, $block->response_headers,
                                                       $idx, $need_array));
        for my $key (keys %$expected) {
            my $val = $expected->{$key};
            if (!defined $val) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            is($actual, $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $expected = parse_headers(get_indexed_value($name, $block->response_headers_like,
                                                       $idx, $need_array));
        for my $key (keys %$expected) {
            my $val = $expected->{$key};
            # (the real framework dies here when no response could be parsed)
            die "$name - no response to check --- response_headers_like against\n"
                unless $res;
            my $actual = $res->header($key);
            $actual = '' unless defined $actual;
            like($actual, qr/^$val$/, "$name - header $key like ok");
        }
    }
}

sub transform_response_body ($$$) {
    my ($block, $res, $idx) = @_;
    my $name = $block->name;

    # the body as received, before any filter
    my $file = $block->write_resp_body_file;
    if (defined $file && defined $res) {
        open my $out, '>', $file
            or bail_out("$name - failed to write to file '$file': $!");
        print $out $res->content // '';
        close $out;
    }

    return unless defined $res;
    my $content = $res->content;
    return unless defined $content;

    my $filters = $block->response_body_filters;
    return unless defined $filters;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [ split /\s+/, $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [ $filters ];
    }

    my $chain = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        for my $elem (@$filters) {
            if (ref $elem ne 'ARRAY') {
                bail_out("$name - the --- response_body_filters two-dimensional array "
                         . "only be like [[uc], [lc]] not [[uc], lc]");
            }
        }
        $chain = $filters->[$idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($idx)") unless defined $chain;
    }

    my $new = $content;
    if (ref $chain && ref $chain eq 'ARRAY') {
        $new = run_filter_helper($block, $_, $new) for @$chain;
    } else {
        $new = run_filter_helper($block, $chain, $new);
    }
    $res->content($new);
}

sub strip_te_lines ($) {
    my $content = shift;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }
    return $content;
}

sub check_response_body ($$$$$) {
    my ($block, $res, $idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $content = strip_te_lines($res ? $res->content : undef);

        # a JSON body compared with its keys sorted (when it parses)
        if (defined $block->response_body_json_sort && defined $content) {
            my $js = JSON::PP->new->canonical(1);
            my $obj;
            if (eval { $obj = $js->loose(1)->decode($content); 1 }) {
                $content = $js->encode($obj) . "\n";
            }
        }

        my $expected;
        if ($block->response_body_eval) {
            diag "$name - response_body_eval is DEPRECATED. Use response_body eval instead.";
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body, $idx, $need_array);
            $expected = expand_env_in_text($expected, $name,
                                           $Test::Nginx::Util::RandPorts)
                unless ref $expected;
        }

        if ($block->charset) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }

        my $what = "(repeated req $repeated_req_idx, req $idx)";
        if (ref $expected) {
            like($content, $expected, "$name - response_body - like $what");
        } elsif ($NoLongString) {
            is($content, $expected, "$name - response_body - response is expected $what");
        } else {
            is_string($content, $expected,
                      "$name - response_body - response is expected $what");
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($patterns, $type) = defined $block->response_body_like
                                ? ($block->response_body_like, 'like')
                                : ($block->response_body_unlike, 'unlike');

        my $content = strip_te_lines($res ? $res->content : undef);
        my $pat = get_indexed_value($name, $patterns, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content);
        $summary = '' unless defined $summary;

        my $desc = "$name - response_body_$type - response is expected ($summary)";
        if ($type eq 'like') {
            like($content, qr/$pat/s, $desc);
        } else {
            unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res->content, $idx, $repeated_req_idx, 0);
    }
}

# raw bytes -> (HTTP::Response, raw header text, bytes left over after this
# response).  Chunked bodies are decoded; malformed chunked data fails.
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $left;
    my $raw_headers = '';
    if ($raw =~ /(.*?\r\n)\r\n/s) {
        $raw_headers = $1;
    }

    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if ($code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }

    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers);
    }

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content;
        $body = '' unless defined $body;
        my $decoded = '';
        my $bad = sub {
            no_ending();
            fail("$name - $_[0]");
            return;
        };

        # the trailer fields announced in "Trailer:" must follow the last
        # chunk, in that order
        my @trailers = $res->header('Trailer');
        while (1) {
            if (!@trailers && $body =~ /\G0[ \t]*\r\n\r\n/gc) {
                if ($body =~ /\G(.+)/gcs) {
                    $left = $1;
                }
                last;
            }

            if (@trailers && $body =~ /\G0[ \t]*\r\n/gc) {
                for my $t (@trailers) {
                    return $bad->("invalid trailer data received (expected $t).")
                        if $body !~ /\G$t: [^\n]*\r\n/gcs;
                }
                return $bad->("invalid chunked data received (expected CRLF).")
                    if $body !~ /\G\r\n/gcs;
                if ($body =~ /\G(.+)/gcs) {
                    $left = $1;
                }
                last;
            }

            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                while ($size > 0) {
                    my $bit = $size < 32765 ? $size : 32765;
                    if ($body =~ /\G(.{$bit})/gcs) {
                        $decoded .= $1;
                    } else {
                        return $bad->("invalid chunked data received "
                                      . "(not enought octets for the data section)");
                    }
                    $size -= $bit;
                }
                if ($body !~ /\G\r\n/gc) {
                    return $bad->("invalid chunked data received (expected CRLF).");
                }
                next;
            }

            if ($body =~ /\G.+/gcs) {
                return $bad->("invalid chunked body received: $&");
            }
            return $bad->("no last chunk found - $body");
        }

        $res->content($decoded);

    } elsif (defined $len && $len ne '' && $len >= 0) {
        my $body = $res->content;
        if (length $body < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: ",
                     "$len expected, but got ", length $body, "\n";
            }
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

#===========================================================================
# Error / access log checks
#===========================================================================

# does the pattern spec (string, qr// or array of them) mention $pat?
sub value_contains ($$) {
    my ($val, $pat) = @_;
    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $pat);
        }
    }
    return undef;
}

# pattern spec -> list copy (plain text: one pattern per non-empty line)
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [ $pats ] if ref $pats eq 'Regexp';
    return [ @$pats ];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

# "must appear" / "must not appear" checks shared by error and access logs
sub check_log_patterns ($$$$$) {
    my ($name, $pats, $lines, $what, $suffix) = @_;
    $pats = pattern_list($pats);
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat;
            if (line_matches($line, $pat)) {
                pass("$name - pattern \"$pat\" matches a line in $what$suffix");
                undef $pat;
            }
        }
    }
    for my $pat (@$pats) {
        next unless defined $pat;
        fail("$name - pattern \"$pat\" should match a line in $what$suffix");
    }
}

sub check_no_log_patterns ($$$$$$) {
    my ($name, $pats, $lines, $what, $suffix, $show_more) = @_;
    $pats = pattern_list($pats);
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next unless defined $pat;
            next unless line_matches($line, $pat);
            # every matching line is one more failure (plan then differs)
            no_ending() if $found{$pat}++;
            my ($ln, $p) = (fmt_str($line), fmt_str($pat));
            my $more = '';
            if ($show_more) {
                for (my $j = $i + 1; $j < min($i + 10, @$lines - 1); $j++) {
                    $more .= $lines->[$j];
                }
            }
            fail("$name - pattern \"$p\" should not match any line in $what "
                 . "but matches line \"$ln\"$suffix" . ($show_more ? "\n$more" : ''));
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        my $p = fmt_str($pat);
        pass("$name - pattern \"$p\" does not match a line in $what$suffix");
    }
}

sub check_access_log ($$) {
    my ($block, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $lines;
    my $suffix = " (req $repeated_req_idx)";

    if (defined $block->access_log) {
        $lines ||= access_log_data();
        check_log_patterns($name, $block->access_log, $lines || [], 'access.log', $suffix);
    }
    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        check_no_log_patterns($name, $block->no_access_log, $lines || [],
                              'access.log', $suffix, 1);
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my $suffix = " (req $repeated_req_idx)";

    my %warn_on = (
        'writing a global lua variable' => qr/writing a global lua variable/,
        '[alert'  => qr/\[alert\]/,
        '[crit'   => qr/\[crit\]/,
        '[emerg'  => qr/\[emerg\]/,
    );

    my $grep_pat;
    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        $grep_pat = ref $grep_pats && ref $grep_pats eq 'ARRAY'
                    ? $grep_pats->[$repeated_req_idx] : $grep_pats;
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        if (!defined $expected) {
            bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined");
        }
        $expected = expand_env_in_text($expected, $name,
                                       $Test::Nginx::Util::RandPorts)
            unless ref $expected;
        if (ref $expected && ref $expected eq 'ARRAY') {
            $expected = $expected->[$repeated_req_idx];
        }

        $lines ||= error_log_data();
        my $matched = '';
        for my $line (@{ $lines || [] }) {
            if (ref $grep_pat && $line =~ /$grep_pat/ || $line =~ /\Q$grep_pat\E/) {
                my $m = $&;
                $matched .= "$m\n" if $m !~ /\n/;
            }
        }

        my $desc = "$name - grep_error_log_out$suffix";
        if (ref $expected eq 'Regexp') {
            like($matched, $expected, $desc);
        } elsif ($NoLongString) {
            is($matched, $expected, $desc);
        } else {
            is_string($matched, $expected, $desc);
        }
    }

    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next unless defined $pats;
        for my $key (keys %warn_on) {
            delete $warn_on{$key} if value_contains($pats, $key);
        }
        $lines ||= error_log_data();
        if ($sec eq 'error_log') {
            check_log_patterns($name, $pats, $lines || [], 'error.log', $suffix);
        } else {
            check_no_log_patterns($name, $pats, $lines || [], 'error.log', $suffix, 1);
        }
    }

    # like the real framework: these only warn, they do not fail
    for my $key (sort keys %warn_on) {
        $lines ||= error_log_data();
        for my $line (@{ $lines || [] }) {
            if ($line =~ $warn_on{$key}) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            no_ending();
            chomp(my $l = $line);
            fail("$name - $l\n");
        }
    }
}

# run when the server that served $block has been shut down
sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->no_shutdown_error_log) {
        $lines ||= error_log_data();
        SKIP: {
            skip "$name - no_shutdown_error_log - tests skipped due to $dry_run",
                 scalar @{ pattern_list($block->no_shutdown_error_log) } if $dry_run;
            check_no_log_patterns($name, $block->no_shutdown_error_log, $lines || [],
                                  'error.log', '', 0);
        }
    }

    $lines ||= error_log_data();
    SKIP: {
        skip "$name - shutdown_error_log - tests skipped due to dry_run",
             scalar @{ pattern_list($block->shutdown_error_log) } if $dry_run;
        check_log_patterns($name, $block->shutdown_error_log, $lines || [],
                           'error.log', '');
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*? failed\.$/) {
            no_ending();
            chomp(my $l = $line);
            fail("$name - $l");
        }
    }
}

#===========================================================================
# Talking to nginx
#===========================================================================

sub gen_curl_cmd_from_req ($$) {
    my ($block, $req) = @_;
    my $name = $block->name;

    $req = join '', map { $_->{value} } @$req;

    my ($meth, $uri, $http_ver);
    if ($req =~ m{^\s*(\w+)\s+(\S+)\s+HTTP/(\S+)\r?\n}smig) {
        ($meth, $uri, $http_ver) = ($1, $2, $3);
    } elsif ($req =~ m{^\s*(\w+)\s+(.*\S)\s*\r?\n}smig) {
        ($meth, $uri, $http_ver) = ($1, $2, '0.9');
    } else {
        bail_out("$name - cannot parse the status line in the request: $req");
    }

    # test-nginx itself sends neither User-Agent nor Accept
    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:', '-H', 'Host:');
    my $proto = $block->curl_protocol // 'http';

    push @args, $Test::Nginx::Util::Verbose ? '-vv' : '-sS';
    push @args, '--http2-prior-knowledge' if use_http2($block);
    if ($meth eq 'HEAD') {
        push @args, '-I';
    } elsif ($meth ne 'GET') {
        push @args, '-X', $meth;
    }
    push @args, '-0' if $http_ver ne '1.1';

    my @headers;
    if ($http_ver ge '1.0') {
        if ($req =~ m{\G(.*?)\r?\n\r?\n}gcs) {
            @headers = grep { !/^Connection\s*:/i } split /\r\n/, $1;
        } else {
            bail_out("cannot parse the header entries in the request: $req");
        }
    }

    my $has_ctype;
    for my $h (@headers) {
        $has_ctype = 1 if $h =~ /^\s*Content-Type\s*:/i;
        push @args, '-H', $h;
    }

    if ($req =~ m{\G(.+)}gcsm) {
        my $body = $1;
        push @args, '-H', 'Content-Type: ' unless $has_ctype;
        my $file = html_dir() . "/curl.data.bin";
        push @args, '--data-binary', '@' . $file;
        open my $fh, '>', $file or die "Could not open file. $!";
        print $fh $body;
        close $fh;
    }

    my $timeout = $block->timeout || timeout();
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $opts = $block->curl_options;
    push @args, $opts if defined $opts;
    push @args, "$proto://$addr:$ServerPortForClient$uri";

    return \@args;
}

sub send_http_req_by_curl ($$$) {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    my $cmd = gen_curl_cmd_from_req($block, $req);

    my ($in, $out, $err) = ('', '', '');
    my $ok = eval {
        IPC::Run::run($cmd, \$in, \$out, \$err, IPC::Run::timeout($timeout + 1));
    };
    if (!defined $ok && $@) {
        fail("failed to run curl: $@");
        return;
    }

    if (!$out) {
        if ($err) {
            my $expect = $block->curl_error;
            if (defined $expect) {
                return if ref $expect && $err =~ /$expect/;
                return if $err =~ /\Q$expect\E/;
            }
            fail("$name - command \"@$cmd\" generates stderr output: $err");
            return;
        }
        fail("$name - curl command \"@$cmd\" generates no stdout output");
        return;
    }

    warn "WARNING: $name - command \"@$cmd\" generates stderr output: $err" if $err;
    return $out;
}

sub connect_to_server ($$$) {
    my ($block, $addr, $timeout) = @_;
    return IO::Socket::INET->new(PeerAddr => $addr,
                                 PeerPort => $ServerPortForClient,
                                 Proto    => 'tcp',
                                 Blocking => 0,
                                 Timeout  => $timeout);
}

# -> (raw response bytes, is_HEAD_request)
sub send_request ($$$$@) {
    my ($req, $middle_delay, $timeout, $block, $tries) = @_;
    my $name = $block->name;

    my @bits = ref $req ? @$req : ({ value => $req });
    my $head_req = (join('', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/) ? 1 : 0;

    if (use_http2($block)) {
        return (send_http_req_by_curl($block, \@bits, $timeout), $head_req);
    }

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock = connect_to_server($block, $addr, $timeout);

    if (!$sock) {
        my $err = $!;
        $tries ||= 1;
        my $max = $TotalConnectingTimeouts ? 20 : 50;
        if ($tries <= $max) {
            my $s = sleep_time();
            my $wait = ($s + $s * $tries) * $tries / 2;
            $wait = 1 if $wait >= 1;

            my $child = $Test::Nginx::Util::ChildPid;
            if (defined $child && waitpid($child, WNOHANG) == -1) {
                warn "WARNING: Child process $child is already gone.\n";
                warn `tail -n20 $Test::Nginx::Util::ErrLogFile`;
                no_ending();
                fail("$name - Can't connect to $addr:$ServerPortForClient: $err (aborted)\n");
                return;
            }

            if ($wait >= 0.6) {
                warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n";
                warn "\tRetry connecting after $wait sec\n" if $tries + 1 <= $max;
            }
            sleep $wait;
            return send_request($req, $middle_delay, $timeout, $block, $tries + 1);
        }

        my $msg = "$name - Can't connect to $addr:$ServerPortForClient: $err (aborted)\n";
        if (++$TotalConnectingTimeouts < 3) {
            no_ending();
            fail($msg);
        } else {
            bail_out($msg);
        }
        return;
    }

    my $resp = '';
    my $fd = fileno $sock;
    my $cur = shift @bits;
    my ($wbuf, $woff) = ($cur->{value}, 0);
    my ($reading, $writing) = (1, 1);

    IO: while ($reading || $writing) {
        my ($rin, $win) = ('', '');
        vec($rin, $fd, 1) = 1 if $reading;
        vec($win, $fd, 1) = 1 if $writing;
        my $ein = $rin | $win;
        my ($rout, $wout, $eout);
        my $nfound = select($rout = $rin, $wout = $win, $eout = $ein, $timeout);

        if ($nfound < 0) {
            next IO if $!{EINTR};
            warn "exception occurs on the socket: $!\n";
            last IO;
        }

        if ($nfound == 0) {
            close $sock;
            if (!defined $block->abort) {
                no_ending();
                fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            return ($resp, $head_req);
        }

        if ($eout && vec($eout, $fd, 1)) {
            warn "exception occurs on the socket: $!\n";
            last IO;
        }

        if ($reading && vec($rout, $fd, 1)) {
            while (1) {
                my $buf;
                my $got = sysread($sock, $buf, 1024);
                if (!defined $got) {
                    last if $!{EAGAIN} || $!{EWOULDBLOCK};
                    warn "WARNING: $name - HTTP response read failure: $!";
                    last IO;
                }
                last IO if $got == 0;    # peer closed: done
                $resp .= $buf;
            }
        }

        if ($writing && vec($wout, $fd, 1)) {
            while (1) {
                my $rest = length($wbuf) - $woff;
                if ($rest > 0) {
                    my $wrote = syswrite($sock, $wbuf, $rest, $woff);
                    if (!defined $wrote) {
                        last if $!{EAGAIN} || $!{EWOULDBLOCK};
                        my $msg = "write failed: $!";
                        warn "$msg\n";
                        $resp = $msg if !$resp;
                        last IO;
                    }
                    $woff += $wrote;
                    next;
                }

                my $next = shift @bits;
                if (!defined $next) {
                    $writing = 0;
                    my $shutdown = $block->shutdown;
                    if (defined $shutdown) {
                        $shutdown = 1 if $shutdown =~ /^$/s;
                        shutdown($sock, $shutdown);
                    }
                    last;
                }

                ($wbuf, $woff) = ($next->{value}, 0);
                my $delay = defined $next->{delay_before} ? $next->{delay_before}
                                                          : $middle_delay;
                sleep $delay if $delay;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - compatible stand-in for the real Test::Nginx::Socket

=head1 DESCRIPTION

See F<tools/test-nginx-compat/README.md>.

=cut
