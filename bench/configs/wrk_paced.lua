-- Paces wrk to a fixed request rate, for bench/ebpf_overhead.sh (Debian's wrk has no -R).
--
--   wrk -t THREADS -c CONNECTIONS -d 20s -s bench/configs/wrk_paced.lua URL -- RATE THREADS
--
-- Each wrk thread has its own Lua state and hands out send slots THREADS / RATE seconds apart
-- to whichever of its connections asks next (wrk calls delay() before every request). A slot
-- is a point on a fixed schedule, not a pause after the last response, so response latency
-- does not lower the rate, and a stall is made up afterwards: the long-run rate stays RATE.
-- wrk takes whole milliseconds, so a request leaves up to 1 ms before its slot.
local ffi = require("ffi")

ffi.cdef([[
struct bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clock_id, struct bench_timespec *tp);
]])

local CLOCK_MONOTONIC = 1
local timespec = ffi.new("struct bench_timespec")

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
    return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local slot_interval_ms
local next_slot_ms

function init(args)
    local rate = tonumber(args[1])
    local threads = tonumber(args[2])
    if rate == nil or rate <= 0 or threads == nil or threads < 1 then
        error("usage: wrk ... -s wrk_paced.lua URL -- RATE THREADS (RATE requests/s over all threads)")
    end
    slot_interval_ms = 1000 * threads / rate
end

function delay()
    local now = now_ms()
    if next_slot_ms == nil then
        next_slot_ms = now
    end
    next_slot_ms = next_slot_ms + slot_interval_ms
    local wait_ms = next_slot_ms - now
    if wait_ms <= 0 then
        return 0
    end
    return math.floor(wait_ms)
end
