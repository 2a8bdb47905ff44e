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
our @EXPORT_OK = qw($LEDGER_HTTP_CONFIG $LEDGER_LOCATIONS ledger_sees
                    acknowledged events_list with_ledger);

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

# ---------------------------------------------------------------------
# The ledger: the app used by t/005-dedupe.t, t/006-policy.t and
# t/007-status.t, reached with "proxy_pass http://ledger" (a unix socket),
# and the Lua helpers of the blocks that drive requests from inside nginx.
#
# The app counts the deliveries of each event id (X-Smile-Event-Id) in the
# shared dict smile_ledger (every worker, kept across a reload), logs
# "app received ID TYPE delivery N", and answers "delivery N of ID" and the
# X-Smile-* headers it received (lowercase names, sorted, values byte for
# byte).  The query string steers it:
#   status=NNN  answer with that status (default 200)
#   hold=1      do not answer before /release?id=ID (or 120 s): the request
#               is "in the app" for as long as the block wants
#
# $LEDGER_LOCATIONS (appended to a block's config) adds, on the test server:
#   GET /hits         "ID N" for every id the app received, sorted by id
#   GET /release?id=  let the held deliveries of ID answer
#
# Lua helpers (globals set by init_by_lua, for content_by_lua drivers):
#   smile.request(method, uri, headers, body) one HTTP/1.0 request to this
#       server on a new connection; returns {status=, headers= (lowercase
#       names), body=}, or raises an error
#   smile.send(...) the same, but only sends: returns the socket, which
#       smile.receive(sock) reads the response from (or the caller closes)
#   smile.body() the driver request's body (in memory or in a file)
#   smile.events() the events in the driver request's body, as written
#       by events_list(): a list of {sig=, body=, id=}
#   smile.post(uri, body, sig, headers) a signed POST
#   smile.line(res) "STATUS RESULT LINE" (RESULT: X-Result or "-", LINE:
#       the body's first line or "-")
#   smile.wait_holding(id, n) until n deliveries of id are held by the app
#   smile.release(id)
#   smile.hup() HUP the master (pid file), then wait until a worker of the
#       new configuration answers; returns the new generation
#   smile.generation  1 for the first configuration, +1 per reload
#   smile.until_generation(gen, fn) calls fn() until the response it
#       returns was served by generation gen (X-Gen header)
our $LEDGER_HTTP_CONFIG = <<'_EOC_';
    server_tokens off;
    lua_shared_dict smile_ledger 1m;

    init_by_lua_block {
        local ledger = ngx.shared.smile_ledger
        smile = { generation = ledger:incr("generation", 1, 0) }

        local timeout = 120000

        function smile.send(method, uri, headers, body)
            local sock = ngx.socket.tcp()
            sock:settimeout(timeout)
            assert(sock:connect("127.0.0.1", tonumber(ngx.var.server_port)))
            local req = { method, " ", uri, " HTTP/1.0\r\nHost: localhost\r\n" }
            for _, h in ipairs(headers or {}) do
                req[#req + 1] = h .. "\r\n"
            end
            if body then
                req[#req + 1] = "Content-Length: " .. #body .. "\r\n"
            end
            req[#req + 1] = "\r\n"
            req[#req + 1] = body or ""
            assert(sock:send(req))
            return sock
        end

        function smile.receive(sock)
            local line = assert(sock:receive("*l"))
            local res = { status = tonumber(line:match("^HTTP/1%.%d (%d%d%d) ")),
                          headers = {} }
            while true do
                line = assert(sock:receive("*l"))
                if line == "" then
                    break
                end
                local k, v = line:match("^([^:]+):%s*(.-)%s*$")
                res.headers[k:lower()] = v
            end
            res.body = assert(sock:receive("*a"))
            sock:close()
            return res
        end

        function smile.request(method, uri, headers, body)
            return smile.receive(smile.send(method, uri, headers, body))
        end

        function smile.body()
            ngx.req.read_body()
            local body = ngx.req.get_body_data()
            if not body and ngx.req.get_body_file() then
                local f = assert(io.open(ngx.req.get_body_file(), "rb"))
                body = f:read("*a")
                f:close()
            end
            return body or ""
        end

        function smile.events()
            local data, pos, events = smile.body(), 1, {}
            while data:sub(pos, pos + 2) ~= "end" do
                local sig, len, start = data:match("^(%x+) (%d+)\n()", pos)
                assert(sig, "bad event list at byte " .. pos)
                local body = data:sub(start, start + len - 1)
                events[#events + 1] = { sig = sig, body = body,
                                        id = body:match('"id":%s*"([^"]+)"') }
                pos = start + len + 1
            end
            return events
        end

        function smile.post(uri, body, sig, headers)
            local h = { "Smile-Signature: " .. sig }
            for _, v in ipairs(headers or {}) do
                h[#h + 1] = v
            end
            return smile.request("POST", uri, h, body)
        end

        function smile.line(res)
            local first = res.body:match("^[^\r\n]*")
            return res.status .. " " .. (res.headers["x-result"] or "-") .. " "
                   .. (first == "" and "-" or first)
        end

        local function wait(what, done)
            local deadline = ngx.now() + timeout / 1000
            while not done() do
                if ngx.now() > deadline then
                    error("gave up waiting for " .. what)
                end
                ngx.sleep(0.01)
            end
        end

        function smile.wait_holding(id, n)
            wait("the app to hold " .. id, function()
                return (ledger:get("holding:" .. id) or 0) >= (n or 1)
            end)
        end

        function smile.release(id)
            ledger:set("release:" .. id, true)
        end

        function smile.hup()
            local f = assert(io.open(ngx.config.prefix() .. "logs/nginx.pid"))
            local pid = assert(tonumber(f:read("*l")))
            f:close()
            local ffi = require "ffi"
            pcall(ffi.cdef, "int kill(int pid, int sig);")
            assert(ffi.C.kill(pid, 1) == 0, "kill -HUP failed")
            local gen = smile.generation + 1
            smile.until_generation(gen, function()
                return smile.request("GET", "/generation")
            end)
            return gen
        end

        function smile.until_generation(gen, fn)
            local res
            wait("generation " .. gen, function()
                res = fn()
                return tonumber(res.headers["x-gen"]) == gen
            end)
            return res
        end
    }

    upstream ledger {
        server unix:$TEST_NGINX_SERVER_ROOT/logs/ledger.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/logs/ledger.sock;

        location / {
            content_by_lua_block {
                local ledger = ngx.shared.smile_ledger
                ngx.req.read_body()
                local id = ngx.var.http_x_smile_event_id or "-"
                local n = ledger:incr("hits:" .. id, 1, 0)
                ngx.log(ngx.WARN, "app received ", id, " ",
                        ngx.var.http_x_smile_event_type, " delivery ", n)
                if ngx.var.arg_hold then
                    -- the front worker, when the front sends X-Front-Pid
                    ledger:set("held-by:" .. id,
                               tonumber(ngx.var.http_x_front_pid) or 0)
                    ledger:incr("holding:" .. id, 1, 0)
                    local deadline = ngx.now() + 120
                    while not ledger:get("release:" .. id)
                          and ngx.now() < deadline
                    do
                        ngx.sleep(0.01)
                    end
                    ledger:incr("holding:" .. id, -1)
                end
                local lines = {}
                for line in ngx.req.raw_header():gmatch("[^\n]*\n") do
                    local l = line:lower()
                    if l:find("^x%-smile%-") then
                        local colon = line:find(":", 1, true)
                        lines[#lines + 1] = l:sub(1, colon) .. line:sub(colon + 1)
                    end
                end
                table.sort(lines)
                ngx.status = tonumber(ngx.var.arg_status) or 200
                ngx.say("delivery ", n, " of ", id)
                ngx.print((table.concat(lines):gsub("\r\n", "\n")))
            }
        }
    }
_EOC_

our $LEDGER_LOCATIONS = <<'_EOC_';

    location = /hits {
        content_by_lua_block {
            local ledger = ngx.shared.smile_ledger
            local ids = {}
            for _, k in ipairs(ledger:get_keys(0)) do
                if k:find("^hits:") then
                    ids[#ids + 1] = k:sub(6)
                end
            end
            table.sort(ids)
            for _, id in ipairs(ids) do
                ngx.say(id, " ", ledger:get("hits:" .. id))
            end
        }
    }

    location = /release {
        content_by_lua_block {
            smile.release(ngx.var.arg_id)
            ngx.say("released ", ngx.var.arg_id)
        }
    }

    location = /generation {
        add_header X-Gen $smile_test_generation;
        set_by_lua_block $smile_test_generation { return smile.generation }
        content_by_lua_block {
            ngx.say(smile.generation)
        }
    }
_EOC_

# what the ledger answers for delivery $n of $body (one of our compact
# events or a seed event), given the headers the module adds; %more adds
# headers (e.g. 'X-Smile-Webhook-Result' => 'duplicate')
sub ledger_sees {
    my ($n, $body, %more) = @_;
    my %h = injected($body);
    %h = (%h, %more);
    return "delivery $n of $h{'X-Smile-Event-Id'}\n"
           . join('', sort map { lc($_) . ": $h{$_}\n" } keys %h);
}

# a driver request's body: "SIGNATURE LENGTH\nBODY\n" for each event, then
# "end" (Test::Nginx trims a request body that ends with blanks)
sub events_list {
    return join('', map { sign($_) . ' ' . length($_) . "\n$_\n" } @_)
           . "end\n";
}

# X-Smile-* headers the module injects for an authentic event
sub injected {
    my ($body) = @_;
    my %h;
    my %key = (id => 'X-Smile-Event-Id', type => 'X-Smile-Event-Type',
               createdAt => 'X-Smile-Event-Created-At');
    for my $k (keys %key) {
        $h{$key{$k}} = $1 if $body =~ /"\Q$k\E"\s*:\s*"([^"]*)"/;
    }
    $h{'X-Smile-User-Id'} = $1 if $body =~ /"userId"\s*:\s*"([^"]*)"/;
    return %h;
}

# the log line of an event answered 200 without being forwarded
sub acknowledged {
    my ($result, $reason, $id, %o) = @_;
    my $mode = $o{report} ? 'would acknowledge (report mode) request without forwarding'
                          : 'acknowledged request without forwarding';
    my $uri = $o{uri} || '/hook';
    my $proto = $o{proto} || 'HTTP/1.1';
    return qr/\[info\] \d+#\d+: \*\d+ smile webhook \Q$mode: $result ($reason), event id "$id"\E, client: 127\.0\.0\.1, server: localhost, request: "POST \Q$uri $proto\E"/;
}

# A block preprocessor (add_block_preprocessor(\&with_ledger)): the
# ledger (app, helpers) goes after the block's own http_config, and its
# helper locations after the block's config, so that "nginx.conf:LINE" of
# the block's own lines does not depend on them.  must_die blocks get
# nothing: their line numbers are those of the plain Test::Nginx layout.
sub with_ledger {
    my $block = shift;

    return if defined $block->must_die;

    my $http = $block->http_config;
    $block->set_value('http_config',
                      (defined $http ? $http : '') . $LEDGER_HTTP_CONFIG);

    if (defined $block->config) {
        $block->set_value('config', $block->config . $LEDGER_LOCATIONS);
    }
}

1;
