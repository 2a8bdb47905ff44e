package SmileApp;

# The app used by t/001-outcomes.t and t/002-bodies.t, and the helpers that
# build their requests and expectations.
#
# The app is a second server in the same nginx, on a unix socket: it answers
# with the X-Smile-* and Smile-Signature request headers it received (names
# in lowercase, sorted; values byte for byte), the body's length and MD5,
# and the body itself when it is at most 64k, and logs "app received ..." so
# that a block can assert it was (not) reached.

use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use Exporter qw(import);
use SmileTest;

our @EXPORT = qw($APP_HTTP_CONFIG post hdrs app_sees error_page rejected);

# http{} settings: the app, reached with "proxy_pass http://app"
our $APP_HTTP_CONFIG = <<'_EOC_';
    server_tokens off;

    upstream app {
        server unix:$TEST_NGINX_SERVER_ROOT/logs/app.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/logs/app.sock;
        client_max_body_size 0;
        client_body_buffer_size 8m;

        location / {
            content_by_lua_block {
                ngx.req.read_body()
                local body = ngx.req.get_body_data()
                if not body then
                    local name = ngx.req.get_body_file()
                    if name then
                        local f = assert(io.open(name, "rb"))
                        body = f:read("*a")
                        f:close()
                    end
                end
                body = body or ""
                ngx.log(ngx.WARN, "app received ", ngx.req.get_method(), " ",
                        ngx.var.request_uri, " with ", #body, " body bytes")
                local lines = {}
                for line in ngx.req.raw_header():gmatch("[^\n]*\n") do
                    local l = line:lower()
                    if l:find("^x%-smile%-") or l:find("^smile%-signature:") then
                        local colon = line:find(":", 1, true)
                        lines[#lines + 1] = l:sub(1, colon) .. line:sub(colon + 1)
                    end
                end
                table.sort(lines)
                ngx.print(table.concat(lines))
                ngx.say("body ", #body, " ", ngx.md5(body))
                if #body <= 65536 then
                    ngx.print(body)
                end
            }
        }
    }
_EOC_

# "POST /hook" (or $uri) with an exact body (sent with our own
# Content-Length, see hdrs)
sub post {
    my ($body, $uri) = @_;
    return "POST " . (defined $uri ? $uri : "/hook") . "\n" . $body;
}

# more_headers: a signature (default: the right one) and the exact length
sub hdrs {
    my ($body, $sig, @more) = @_;
    $sig = sign($body) unless defined $sig;
    return join "\n", "Smile-Signature: $sig",
                      "Content-Length: " . length($body), @more;
}

# what the app answers when it received $body with these headers
sub app_sees {
    my ($body, %h) = @_;
    my @lines = sort map { lc($_) . ": $h{$_}\r\n" } keys %h;
    return join('', @lines) . "body " . length($body) . " " . md5_hex($body)
           . "\n" . (length($body) <= 65536 ? $body : '');
}

# nginx's own error page (server_tokens off): no secret, signature or body
sub error_page {
    my ($status) = @_;
    my %text = (400 => '400 Bad Request',
                401 => '401 Authorization Required',
                405 => '405 Not Allowed',
                413 => '413 Request Entity Too Large');
    my $t = $text{$status} or die "no error page text for $status";
    return "<html>\r\n<head><title>$t</title></head>\r\n<body>\r\n"
           . "<center><h1>$t</h1></center>\r\n<hr><center>nginx</center>\r\n"
           . "</body>\r\n</html>\r\n";
}

# the rejection line: level, result, reason, event id part, client context;
# options level, client, method, proto
sub rejected {
    my ($result, $reason, $id, %o) = @_;
    my $level  = $o{level}  || 'warn';
    my $client = $o{client} || '127.0.0.1';
    my $method = $o{method} || 'POST';
    my $proto  = $o{proto}  || 'HTTP/1.1';
    return qr/\[\Q$level\E\] \d+#\d+: \*\d+ smile webhook rejected request: \Q$result ($reason)$id\E, client: \Q$client\E, server: localhost, request: "\Q$method\E \/hook \Q$proto\E"/;
}

1;
