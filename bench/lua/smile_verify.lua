-- bench/lua/smile_verify.lua - the `lua` variant of bench/run: Smile
-- webhook verification written the way one would with Debian's
-- libnginx-mod-http-lua and lua-resty-core.
--
--   init_worker_by_lua_block { require("smile_verify").init(SECRET) }
--   location ... { access_by_lua_block { require("smile_verify").verify() } proxy_pass ...; }
--
-- access_by_lua reads the body, HMAC-SHA512 over it through LuaJIT FFI to
-- libcrypto with a context keyed once per worker (reset to the keyed state
-- for each request, so no key schedule per request), a constant-time
-- compare (CRYPTO_memcmp) with the Smile-Signature header, 401 on mismatch.
-- Nothing here yields between the reset and the final, so one context per
-- worker is safe.  No JSON parsing: this variant only verifies.

local ffi = require "ffi"
local bit = require "bit"

local C = ffi.load("libcrypto.so.3")

ffi.cdef [[
typedef struct hmac_ctx_st HMAC_CTX;
typedef struct evp_md_st EVP_MD;
typedef struct engine_st ENGINE;

const EVP_MD *EVP_sha512(void);
HMAC_CTX *HMAC_CTX_new(void);
int HMAC_Init_ex(HMAC_CTX *ctx, const void *key, int key_len,
                 const EVP_MD *md, ENGINE *impl);
int HMAC_Update(HMAC_CTX *ctx, const unsigned char *data, size_t len);
int HMAC_Final(HMAC_CTX *ctx, unsigned char *md, unsigned int *len);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);
]]

local ngx = ngx
local ngx_var = ngx.var
local ngx_req = ngx.req
local ngx_exit = ngx.exit
local str_find = string.find
local str_lower = string.lower
local io_open = io.open
local rshift = bit.rshift
local band = bit.band

local _M = {}

local ctx
local mac = ffi.new("unsigned char[64]")
local maclen = ffi.new("unsigned int[1]")
local hex = ffi.new("unsigned char[128]")
local digits = ffi.new("const char[17]", "0123456789abcdef")

function _M.init(secret)
    ctx = C.HMAC_CTX_new()
    if ctx == nil
        or C.HMAC_Init_ex(ctx, secret, #secret, C.EVP_sha512(), nil) ~= 1
    then
        error("HMAC-SHA512 key setup failed")
    end
end

local function reject()
    return ngx_exit(ngx.HTTP_UNAUTHORIZED)
end

local function update_from_file(path)
    local f = io_open(path, "rb")
    if not f then
        return false
    end
    while true do
        local chunk = f:read(65536)
        if not chunk then
            break
        end
        if C.HMAC_Update(ctx, chunk, #chunk) ~= 1 then
            f:close()
            return false
        end
    end
    f:close()
    return true
end

function _M.verify()
    if ngx_req.get_method() ~= "POST" then
        return ngx_exit(ngx.HTTP_NOT_ALLOWED)
    end

    local sig = ngx_var.http_smile_signature
    if not sig or #sig ~= 128 or str_find(sig, "[^%x]") then
        return reject()
    end

    ngx_req.read_body()

    if C.HMAC_Init_ex(ctx, nil, 0, nil, nil) ~= 1 then
        return ngx_exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end

    local body = ngx_req.get_body_data()
    if body then
        if C.HMAC_Update(ctx, body, #body) ~= 1 then
            return ngx_exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
        end
    else
        -- larger than client_body_buffer_size: nginx spilled it to a file
        local path = ngx_req.get_body_file()
        if path and not update_from_file(path) then
            return ngx_exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
        end
    end

    if C.HMAC_Final(ctx, mac, maclen) ~= 1 then
        return ngx_exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end

    for i = 0, 63 do
        local b = mac[i]
        hex[2 * i] = digits[rshift(b, 4)]
        hex[2 * i + 1] = digits[band(b, 15)]
    end

    if C.CRYPTO_memcmp(hex, str_lower(sig), 128) ~= 0 then
        return reject()
    end
end

return _M
