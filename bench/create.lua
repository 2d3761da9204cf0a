-- wrk script for script/bench: POSTs lead-list creates, each with a distinct name, for a
-- fixed window, then stops creating so that every create it sent is answered before wrk
-- exits (see "Draining" below). Prints its results as "BENCH key value" lines.
--
-- usage: wrk -t2 -c16 -d<window+drain>s --timeout 60s -s bench/create.lua URL -- \
--            SIZE TOKEN PREFIX WINDOW [DRAIN_PATH]
--
--   SIZE        person ids per list ("lead_" and 16 hex digits, all distinct)
--   TOKEN       bearer token of the session the lists are created in
--   PREFIX      name prefix; request n of thread t is named PREFIX-t-n
--   WINDOW      seconds (may be fractional) during which creates are sent
--   DRAIN_PATH  path of the drain requests (default: the URL's path)
--
-- Draining. wrk stops at the end of -d whatever is in flight, so a create the service
-- committed could go unseen and the round would not reconcile. Instead each thread sends
-- creates for WINDOW seconds only; after that, each connection whose create has been
-- answered gets a drain request: a POST that announces a longer body than it sends, so
-- nginx waits for the rest and never answers or passes it on. Drain requests write
-- nothing and leave no latency sample. -d must exceed WINDOW by more than the slowest
-- create; script/bench chooses it. The rate is the number of answers divided by the time
-- from the first create to the last answer.
--
-- Counting statuses needs wrk's response() callback, which makes wrk copy every
-- response's headers and body into Lua: it costs client CPU (see bench/README.md).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- The same ids as bench/ceiling-db.sh writes: an odd multiplier modulo 2^32 is a bijection,
-- so the ids of a list are distinct.
local function person_ids(n)
    local ids = {}
    for i = 1, n do
        local v = (i * 2654435761) % 4294967296
        ids[i] = string.format('"lead_00000000%04x%04x"', math.floor(v / 65536), v % 65536)
    end
    return table.concat(ids, ",")
end

-- Main state: the threads, to collect their counters in done().
local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

-- Thread state.
local size, prefix, window, head, tail, headers, drain_req
local t_first, deadline, verify_pending
sent, answered, drains, t_start, t_last = 0, 0, 0, 0, 0
statuses = {}

function init(args)
    size = tonumber(args[1])
    local token = args[2]
    prefix = args[3]
    window = tonumber(args[4])
    local drain_path = args[5] or wrk.path
    if size == nil or token == nil or prefix == nil or window == nil then
        error("usage: -- SIZE TOKEN PREFIX WINDOW [DRAIN_PATH]")
    end
    head = '{"name":"' .. prefix .. "-" .. tid .. "-"
    tail = '","type":"person","icpId":null,"startDate":"2024-01-01",'
        .. '"endDate":"2024-03-31T23:59:59Z","personIds":[' .. person_ids(size) .. "]}"
    headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
    }
    drain_req = "POST " .. drain_path .. " HTTP/1.1\r\n"
        .. "Host: " .. (wrk.headers["Host"] or wrk.host) .. "\r\n"
        .. "Content-Type: application/json\r\n"
        .. "Content-Length: 64\r\n\r\n{"
    -- wrk calls request() once in the first thread's state to check what it returns,
    -- before that thread runs; that request is never sent.
    verify_pending = tid == 0
end

function request()
    if verify_pending then
        verify_pending = false
        return wrk.format("POST", nil, headers, head .. "verify" .. tail)
    end
    local t = now()
    if t_first == nil then
        t_first = t
        t_start = t
        deadline = t + window
    end
    if t >= deadline then
        drains = drains + 1
        return drain_req
    end
    sent = sent + 1
    return wrk.format("POST", nil, headers, head .. sent .. tail)
end

function response(status, hdrs, body)
    answered = answered + 1
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
    t_last = now()
end

function done(summary, latency, requests)
    local total_sent, total_answered, total_drains = 0, 0, 0
    local first, last = math.huge, 0
    local st = {}
    for _, t in ipairs(threads) do
        total_sent = total_sent + t:get("sent")
        total_answered = total_answered + t:get("answered")
        total_drains = total_drains + t:get("drains")
        local s, l = t:get("t_start"), t:get("t_last")
        if s > 0 and s < first then first = s end
        if l > last then last = l end
        for k, v in pairs(t:get("statuses")) do
            st[k] = (st[k] or 0) + v
        end
    end
    local elapsed = 0
    if last > first then elapsed = last - first end
    local out = {}
    out[#out + 1] = string.format("BENCH sent %d", total_sent)
    out[#out + 1] = string.format("BENCH answered %d", total_answered)
    out[#out + 1] = string.format("BENCH drains %d", total_drains)
    out[#out + 1] = string.format("BENCH elapsed %.6f", elapsed)
    out[#out + 1] = string.format("BENCH rate %.3f", elapsed > 0 and total_answered / elapsed or 0)
    out[#out + 1] = string.format("BENCH wrk_requests %d", summary.requests)
    out[#out + 1] = string.format("BENCH errors_connect %d", summary.errors.connect)
    out[#out + 1] = string.format("BENCH errors_read %d", summary.errors.read)
    out[#out + 1] = string.format("BENCH errors_write %d", summary.errors.write)
    out[#out + 1] = string.format("BENCH errors_timeout %d", summary.errors.timeout)
    -- Latency in microseconds, answered creates only (drain requests are never answered).
    out[#out + 1] = string.format("BENCH p50_us %d", latency:percentile(50))
    out[#out + 1] = string.format("BENCH p90_us %d", latency:percentile(90))
    out[#out + 1] = string.format("BENCH p99_us %d", latency:percentile(99))
    out[#out + 1] = string.format("BENCH max_us %d", latency.max)
    out[#out + 1] = string.format("BENCH mean_us %.1f", latency.mean)
    local codes = {}
    for k, v in pairs(st) do
        codes[#codes + 1] = k .. ":" .. v
    end
    table.sort(codes)
    out[#out + 1] = "BENCH statuses " .. (#codes > 0 and table.concat(codes, ",") or "none")
    out[#out + 1] = string.format("BENCH status_201 %d", st["201"] or 0)
    io.write(table.concat(out, "\n") .. "\n")
end
