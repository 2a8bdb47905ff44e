-- bench/wrk_unique.lua - the load bench/run sends with BENCH_UNIQUE=1: POST
-- /smile/webhook, every request an event with a new id and its own correct
-- Smile-Signature, over keepalive connections.
--
--   BENCH_BODY=file BENCH_ID_AT="OFFSET LENGTH" BENCH_SECRET=secret \
--   BENCH_ID_PREFIX=token wrk -s bench/wrk_unique.lua http://127.0.0.1:PORT/smile/webhook
--
-- BENCH_BODY is a template event (bench/mkbodies.pl's NAME.u.json) whose
-- id value sits at byte OFFSET (0-based) and is LENGTH bytes long.  Each
-- request replaces it with an id of the same length,
--
--   et-<BENCH_ID_PREFIX>-<thread number>-<per-thread counter, zero-padded>
--
-- so the body size never changes.  bench/run gives every wrk invocation its
-- own BENCH_ID_PREFIX (a random token per bench run, plus the invocation's
-- number), so no id repeats across warm-ups, rounds and checks while the
-- front nginx (and its dedupe zone) lives.
--
-- Building: each thread formats the request once with wrk.format (method,
-- path, Host, Content-Type, Content-Length, a placeholder Smile-Signature,
-- the template body) and keeps that Lua string; per request it writes the
-- new id and the new signature (always 128 hex digits, so nothing moves)
-- into the string's bytes through an FFI pointer and returns the same
-- string.  wrk copies what request() returns into its own buffer at once
-- (script_request: memcpy), and nothing else ever reads or builds that
-- string, so rewriting it in place is safe; it also avoids what a new
-- string per request costs: LuaJIT mmaps every string over 128 KB, so a
-- fresh 1 MB request meant 256 page faults, about 1 ms of wrk's CPU.
--
-- Signing: HMAC-SHA512 through LuaJIT's FFI to the libcrypto wrk itself is
-- linked with (ffi.C; OpenSSL 3 still exports HMAC_CTX_*).  The bytes before
-- the id never change, so one context is keyed and fed them once per thread;
-- per request that context is copied and fed only the id and what follows
-- it.  mkbodies.pl puts the id last, so that is about 40 bytes at every body
-- size.
--
-- BENCH_SIGN_BENCH=N: each thread first times N request builds (new id,
-- HMAC, the copy for wrk) and N one-shot HMACs over the whole body (what
-- signing would cost with the id in front), prints "sign-cost build_us=...
-- full_hmac_us=..." and then runs as usual.
--
-- done() prints "wrk-cpu-seconds: S", wrk's CPU time (all threads, from
-- clock()), for bench/run's record of what the load generator spent.

local ffi = require("ffi")

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
typedef struct hmac_ctx_st HMAC_CTX;
const EVP_MD *EVP_sha512(void);
HMAC_CTX *HMAC_CTX_new(void);
int HMAC_CTX_copy(HMAC_CTX *dctx, HMAC_CTX *sctx);
int HMAC_Init_ex(HMAC_CTX *ctx, const void *key, int len, const EVP_MD *md,
                 void *impl);
int HMAC_Update(HMAC_CTX *ctx, const void *data, size_t len);
int HMAC_Final(HMAC_CTX *ctx, unsigned char *md, unsigned int *len);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const void *d, size_t n, unsigned char *md,
                    unsigned int *md_len);
]]

local C = ffi.C

local path = os.getenv("BENCH_BODY")
local id_at = os.getenv("BENCH_ID_AT")
local secret = os.getenv("BENCH_SECRET")
local prefix = os.getenv("BENCH_ID_PREFIX")

if not path or not id_at or not secret or not prefix then
    error("set BENCH_BODY, BENCH_ID_AT, BENCH_SECRET and BENCH_ID_PREFIX")
end
if not prefix:match("^[A-Za-z0-9._:-]+$") then
    error("BENCH_ID_PREFIX may hold only A-Z a-z 0-9 . _ : -")
end

local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

local off, len = id_at:match("^(%d+) (%d+)")
off, len = tonumber(off), tonumber(len)
if not off or off + len > #body then
    error("BENCH_ID_AT does not fit " .. path)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("thread_no", threads)
end

-- per thread (each has its own Lua state) ----------------------------------

local md, base, ctx, out, outlen, digits
local req_s, req, sig_p, id_p, tail_len
local id_head, id_width, counter = nil, 0, 0

local function build()
    counter = counter + 1
    local id = id_head .. string.format("%0" .. id_width .. "d", counter)
    ffi.copy(id_p, id, len)
    C.HMAC_CTX_copy(ctx, base)
    C.HMAC_Update(ctx, id_p, tail_len)
    C.HMAC_Final(ctx, out, outlen)
    for i = 0, 63 do
        local b = out[i]
        sig_p[2 * i] = digits[bit.rshift(b, 4)]
        sig_p[2 * i + 1] = digits[bit.band(b, 15)]
    end
    return req_s
end

function init(args)
    md = C.EVP_sha512()
    base = C.HMAC_CTX_new()
    ctx = C.HMAC_CTX_new()
    assert(base ~= nil and ctx ~= nil, "HMAC_CTX_new failed")
    assert(C.HMAC_Init_ex(base, secret, #secret, md, nil) == 1)
    assert(C.HMAC_Update(base, body, off) == 1)
    out = ffi.new("unsigned char[64]")
    outlen = ffi.new("unsigned int[1]")
    digits = ffi.new("const char[16]", "0123456789abcdef")

    -- the request as wrk.format writes it, signature and id to be filled in
    local mark = string.rep("S", 128)
    wrk.headers["Smile-Signature"] = mark
    req_s = wrk.format(nil, nil, nil, body)
    wrk.headers["Smile-Signature"] = nil
    local at = req_s:find("\r\nSmile-Signature: " .. mark .. "\r\n", 1, true)
    assert(at and req_s:sub(-#body) == body, "unexpected wrk.format output")
    req = ffi.cast("uint8_t *", req_s)
    sig_p = req + at - 1 + #"\r\nSmile-Signature: "
    id_p = req + (#req_s - #body) + off
    tail_len = #body - off

    id_head = "et-" .. prefix .. "-" .. tostring(thread_no or 1) .. "-"
    id_width = len - #id_head
    if id_width < 6 then
        error("the template id (" .. len .. " bytes) is too short for prefix "
              .. id_head)
    end

    local n = tonumber(os.getenv("BENCH_SIGN_BENCH") or "")
    if n and n > 0 then
        local t0 = os.clock()
        for _ = 1, n do build() end
        local t1 = os.clock()
        for _ = 1, n do
            C.HMAC(md, secret, #secret, body, #body, out, outlen)
        end
        local t2 = os.clock()
        io.write(string.format("sign-cost build_us=%.3f full_hmac_us=%.3f n=%d\n",
                               (t1 - t0) * 1e6 / n, (t2 - t1) * 1e6 / n, n))
    end
end

function request()
    return build()
end

function done(summary, latency, requests)
    io.write(string.format("wrk-cpu-seconds: %.6f\n", os.clock()))
end
