-- bench/wrk.lua - the load bench/run sends: POST /smile/webhook with a
-- signed body, over keepalive connections.
--
--   BENCH_BODY=file BENCH_SIG=hex wrk -s bench/wrk.lua http://127.0.0.1:PORT/smile/webhook
--
-- Every request is the same: the body read once from BENCH_BODY, the
-- Smile-Signature header from BENCH_SIG.  No per-response callback, so
-- wrk spends as little of its core as it can.  done() prints
-- "wrk-cpu-seconds: S", wrk's CPU time (clock()), for bench/run's record of
-- what the load generator spent.  bench/wrk_unique.lua is the load with a
-- new event id in every request (BENCH_UNIQUE=1).

local path = os.getenv("BENCH_BODY")
local sig = os.getenv("BENCH_SIG")

if not path or not sig then
    error("set BENCH_BODY and BENCH_SIG")
end

local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Smile-Signature"] = sig

function done(summary, latency, requests)
    io.write(string.format("wrk-cpu-seconds: %.6f\n", os.clock()))
end
