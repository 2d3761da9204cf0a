-- wrk script for script/bench: reads and changes existing lead lists for a fixed window,
-- then drains like bench/create.lua (see "Draining" there), checking every answer's status
-- and body. Prints its results as "BENCH key value" lines.
--
-- usage: wrk -t2 -c16 -d<window+drain>s --timeout 60s -s bench/ops.lua URL -- \
--            MODE TOKEN PREFIX WINDOW DRAIN_PATH [KEY=VALUE...]
--
--   MODE        get      GET of one list, the ids of get=FILE in turn (each thread starting
--                        at its own place);
--               list     GET of a page: the collection with ?limit=page (default 50), each
--                        answer holding exactly page items;
--               patch    PATCH of the name, no If-Match: each request takes a list of
--                        patch=FILE that no other request in flight holds (a thread uses the
--                        lines t+1, t+1+threads, ...; give it as many as its connections)
--                        and gives it back on the answer;
--               members  add-members of add=N new ids, then remove-members of the same ids,
--                        alternately, on each list of members=FILE (taken and given back like
--                        patch's); the lists hold base=N ids before an add. A line of the file
--                        may name the list's first operation after its id ("ID remove" for a
--                        list holding the added ids already). Latency and, with
--                        procs=FILE, CPU time are measured for each operation on its own:
--                        run it on one connection so that requests and answers pair up;
--               mixed    in turn create (create=N ids), get, list, patch, members, with the
--                        files of all of them (patch or members falls back to a get when the
--                        thread has no free list).
--   TOKEN       bearer token of the session
--   PREFIX      the names given by creates and PATCHes: PREFIX-t-n
--   WINDOW      seconds (may be fractional) during which requests are sent
--   DRAIN_PATH  path of the drain requests (a POST path of the API)
--   procs=FILE  "GROUP PID" lines (nginx, workers, mariadbd): members mode reads their CPU
--               time before every request and charges the difference to the previous one;
--               tck=N (clock ticks per second) and ncpu=N go with it
--
-- An answer is good when it has the status and the body its request expects (a list with
-- its id, a page of the right length, the PATCH's own name, the member count and empty
-- alreadyPresent/notPresent an add or remove of new ids must give). The counts per operation
-- let script/bench reconcile the round with the database; any other answer is counted bad.

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

local API = "/api/v1/entities/leadlists"

-- create.lua's ids: "lead_00000000" and 8 hex digits.
local function person_ids(n)
    local ids = {}
    for i = 1, n do
        local v = (i * 2654435761) % 4294967296
        ids[i] = string.format('"lead_00000000%04x%04x"', math.floor(v / 65536), v % 65536)
    end
    return table.concat(ids, ",")
end

-- The ids add-members adds: "lead_ffffffff" and 8 hex digits, never among create.lua's.
local function added_ids(n)
    local ids = {}
    for i = 1, n do
        ids[i] = string.format('"lead_ffffffff%08x"', i)
    end
    return table.concat(ids, ",")
end

local function read_lines(path)
    local out = {}
    if path == nil then return out end
    local f = assert(io.open(path, "r"))
    for line in f:lines() do
        if line ~= "" then out[#out + 1] = line end
    end
    f:close()
    return out
end

-- Main state: the threads, to collect their counters in done().
local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

-- Thread state.
local mode, prefix, window, headers, drain_req, page
local get_ids, get_next = {}, 1
local patch_free, patch_name = {}, {}
local members_free, members_state = {}, {}
local member_count, add_n, add_body, create_head, create_tail
local procs, tck, ncpu
local t_first, deadline, verify_pending, mix = nil, nil, false, 0
local last_op, last_sent, last_mark, pending_op, pending_t
sent, answered, drains, t_start, t_last, bad = 0, 0, 0, 0, 0, 0
statuses = {}
-- good answers per operation: create, get, list, patch, add, remove
good = {}
-- members mode: latencies in microseconds, and CPU ms and wall ms per operation
lat_add, lat_remove = {}, {}
cpu_add, cpu_remove = {}, {}
first_bad = ""

local function parse_opts(args, from)
    local o = {}
    for i = from, #args do
        local k, v = args[i]:match("^([%w_]+)=(.*)$")
        if k == nil then error("ops.lua: expected KEY=VALUE, not " .. args[i]) end
        o[k] = v
    end
    return o
end

-- The lines of FILE that belong to this thread: t+1, t+1+threads, ...
local function mine(lines, nthreads)
    local out = {}
    for i = tid + 1, #lines, nthreads do out[#out + 1] = lines[i] end
    return out
end

function init(args)
    mode, prefix = args[1], args[3]
    local token = args[2]
    window = tonumber(args[4])
    local drain_path = args[5]
    if mode == nil or token == nil or prefix == nil or window == nil or drain_path == nil then
        error("usage: -- MODE TOKEN PREFIX WINDOW DRAIN_PATH [KEY=VALUE...]")
    end
    local o = parse_opts(args, 6)
    local nthreads = tonumber(o.threads or "1")
    page = tonumber(o.page or "50")
    headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
    }
    get_ids = read_lines(o.get)
    if #get_ids > 0 then
        -- Threads start at their own place in the ids.
        get_next = (math.floor(#get_ids * tid / nthreads) % #get_ids) + 1
    end
    for _, id in ipairs(mine(read_lines(o.patch), nthreads)) do
        patch_free[#patch_free + 1] = id
    end
    for _, line in ipairs(mine(read_lines(o.members), nthreads)) do
        local id, what = line:match("^(%S+)%s*(%S*)$")
        members_free[#members_free + 1] = id
        members_state[id] = what == "remove" and "remove" or "add"
    end
    member_count = tonumber(o.base or "0")
    add_n = tonumber(o.add or "100")
    add_body = '{"personIds":[' .. added_ids(add_n) .. ']}'
    local create_n = tonumber(o.create or "10")
    create_head = '{"name":"' .. prefix .. "-c-" .. tid .. "-"
    create_tail = '","type":"person","icpId":null,"startDate":"2024-01-01",'
        .. '"endDate":"2024-03-31T23:59:59Z","personIds":[' .. person_ids(create_n) .. "]}"
    if o.procs ~= nil then
        procs = {}
        for _, line in ipairs(read_lines(o.procs)) do
            local g, pid = line:match("^(%S+) (%d+)$")
            if g ~= nil then procs[#procs + 1] = { g, pid } end
        end
        tck = tonumber(o.tck or "100")
        ncpu = tonumber(o.ncpu or "1")
    end
    local need = { get = #get_ids, patch = #patch_free, members = #members_free }
    if need[mode] ~= nil and need[mode] == 0 then
        error("ops.lua: mode " .. mode .. " has no lists for thread " .. tid)
    end
    if mode == "mixed" and (#get_ids == 0 or #patch_free == 0 or #members_free == 0) then
        error("ops.lua: mode mixed needs get=, patch= and members= lists for thread " .. tid)
    end
    drain_req = "POST " .. drain_path .. " HTTP/1.1\r\n"
        .. "Host: " .. (wrk.headers["Host"] or wrk.host) .. "\r\n"
        .. "Content-Type: application/json\r\n"
        .. "Content-Length: 64\r\n\r\n{"
    verify_pending = tid == 0
end

-- CPU ticks (utime + stime) of a /proc stat file, nil when it cannot be read.
local function ticks(path)
    local f = io.open(path, "r")
    if f == nil then return nil end
    local line = f:read("*l")
    f:close()
    if line == nil then return nil end
    local rest = line:match("%) (.*)$")
    local i, u, s = 0, 0, 0
    for field in rest:gmatch("%S+") do
        i = i + 1
        if i == 12 then u = tonumber(field) elseif i == 13 then s = tonumber(field) break end
    end
    return u + s
end

local function machine_busy()
    local f = io.open("/proc/stat", "r")
    local line = f:read("*l")
    f:close()
    local v, i, busy = {}, 0, 0
    for field in line:gmatch("%d+") do
        i = i + 1
        v[i] = tonumber(field)
    end
    -- user nice system idle iowait irq softirq steal
    busy = v[1] + v[2] + v[3] + v[6] + v[7] + v[8]
    return busy
end

-- A snapshot of the CPU ticks of the groups, this wrk, the machine, and the time.
local function mark()
    local m = { t = now(), client = ticks("/proc/self/stat") or 0, machine = machine_busy() }
    for _, p in ipairs(procs) do
        local v = ticks("/proc/" .. p[2] .. "/stat")
        if v ~= nil then m[p[1] .. " " .. p[2]] = v end
    end
    return m
end

-- Charges the CPU since the previous mark to the operation sent then.
local function charge(m)
    if last_mark ~= nil and last_op ~= nil then
        local acc = last_op == "add" and cpu_add or cpu_remove
        local ms = 1000 / tck
        local groups = 0
        for key, v in pairs(m) do
            local g = key:match("^(%S+) %d+$")
            if g ~= nil and last_mark[key] ~= nil then
                local d = (v - last_mark[key]) * ms
                acc[g] = (acc[g] or 0) + d
                groups = groups + d
            end
        end
        local client = (m.client - last_mark.client) * ms
        acc.client = (acc.client or 0) + client
        acc.machine = (acc.machine or 0) + (m.machine - last_mark.machine) * ms
        acc.wall = (acc.wall or 0) + (m.t - last_mark.t) * 1000
        acc.n = (acc.n or 0) + 1
    end
    last_mark = m
end

local function get_request()
    local id = get_ids[get_next]
    get_next = get_next % #get_ids + 1
    return wrk.format("GET", API .. "/" .. id, headers)
end

-- No free list (one was not given back, its answer being bad): a get, or nothing.
local function fallback()
    if #get_ids > 0 then return "get", get_request() end
    return nil, nil
end

local function next_op()
    if mode ~= "mixed" then return mode end
    mix = mix % 5 + 1
    return ({ "create", "get", "list", "patch", "members" })[mix]
end

local function build(op)
    if op == "get" then
        return "get", get_request()
    elseif op == "list" then
        return "list", wrk.format("GET", API .. "?limit=" .. page, headers)
    elseif op == "create" then
        return "create", wrk.format("POST", API, headers, create_head .. sent .. create_tail)
    elseif op == "patch" then
        local id = table.remove(patch_free)
        if id == nil then return fallback() end
        local name = prefix .. "-p-" .. tid .. "-" .. sent
        patch_name[id] = name
        return "patch", wrk.format("PATCH", API .. "/" .. id, headers, '{"name":"' .. name .. '"}')
    else
        local id = table.remove(members_free)
        if id == nil then return fallback() end
        local what = members_state[id]
        local path = API .. "/" .. id .. (what == "add" and "/add-members" or "/remove-members")
        return what, wrk.format("POST", path, headers, add_body)
    end
end

function request()
    if verify_pending then
        verify_pending = false
        return wrk.format("GET", API .. "?limit=1", headers)
    end
    local t = now()
    if t_first == nil then
        t_first = t
        t_start = t
        deadline = t + window
    end
    local done = t >= deadline
    local op, req
    if not done then
        op, req = build(next_op())
        -- Nothing left to send: the rest of the window is drained.
        if req == nil then done = true else sent = sent + 1 end
    end
    if procs ~= nil then
        charge(mark())
        last_op = op
    end
    if done then
        drains = drains + 1
        return drain_req
    end
    pending_op, pending_t = op, now()
    return req
end

local function note_bad(status, body)
    bad = bad + 1
    if first_bad == "" then
        first_bad = tostring(status) .. " " .. (body or ""):sub(1, 160):gsub("%s+", " ")
    end
end

local function count(op)
    good[op] = (good[op] or 0) + 1
end

local function plain(body, s) return body:find(s, 1, true) ~= nil end

-- The id of a body that starts with it.
local function body_id(body)
    if body:sub(1, 7) ~= '{"id":"' then return nil end
    return body:sub(8, 43)
end

function response(status, hdrs, body)
    answered = answered + 1
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
    t_last = now()
    if pending_t ~= nil and (pending_op == "add" or pending_op == "remove") then
        -- One connection: this answers the request sent last.
        local lat = pending_op == "add" and lat_add or lat_remove
        lat[#lat + 1] = math.floor((t_last - pending_t) * 1e6)
    end
    pending_t = nil
    if status == 201 then
        if body_id(body) ~= nil and plain(body, '"personIds":[') then count("create") else note_bad(status, body) end
        return
    end
    if status ~= 200 then
        note_bad(status, body)
        return
    end
    if body:sub(1, 14) == '{"leadlists":[' then
        local _, items = body:gsub('"personCount":', "")
        if items == page and plain(body, '"nextCursor":') then count("list") else note_bad(status, body) end
        return
    end
    local id = body_id(body)
    if id == nil then
        note_bad(status, body)
        return
    end
    if members_state[id] ~= nil and plain(body, '"memberCount":') then
        local what = members_state[id]
        local ok
        if what == "add" then
            ok = plain(body, '"alreadyPresent":[],"memberCount":' .. (member_count + add_n) .. ",")
            members_state[id] = "remove"
        else
            ok = plain(body, '"notPresent":[],"memberCount":' .. member_count .. ",")
            members_state[id] = "add"
        end
        members_free[#members_free + 1] = id
        if ok then count(what) else note_bad(status, body) end
        return
    end
    local name = patch_name[id]
    if name ~= nil then
        patch_name[id] = nil
        patch_free[#patch_free + 1] = id
        if plain(body, '"name":"' .. name .. '"') then count("patch") else note_bad(status, body) end
        return
    end
    if plain(body, '"personIds":[') then count("get") else note_bad(status, body) end
end

local function percentile(list, q)
    if #list == 0 then return 0 end
    table.sort(list)
    local i = math.ceil(#list * q / 100)
    if i < 1 then i = 1 end
    return list[i]
end

function done(summary, latency, requests)
    local total_sent, total_answered, total_drains, total_bad = 0, 0, 0, 0
    local first, last = math.huge, 0
    local st, g, la, lr, ca, cr = {}, {}, {}, {}, {}, {}
    local why = ""
    for _, t in ipairs(threads) do
        total_sent = total_sent + t:get("sent")
        total_answered = total_answered + t:get("answered")
        total_drains = total_drains + t:get("drains")
        total_bad = total_bad + t:get("bad")
        if why == "" then why = t:get("first_bad") end
        local s, l = t:get("t_start"), t:get("t_last")
        if s > 0 and s < first then first = s end
        if l > last then last = l end
        for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
        for k, v in pairs(t:get("good")) do g[k] = (g[k] or 0) + v end
        for _, v in ipairs(t:get("lat_add")) do la[#la + 1] = v end
        for _, v in ipairs(t:get("lat_remove")) do lr[#lr + 1] = v end
        for k, v in pairs(t:get("cpu_add")) do ca[k] = (ca[k] or 0) + v end
        for k, v in pairs(t:get("cpu_remove")) do cr[k] = (cr[k] or 0) + v end
    end
    local elapsed = 0
    if last > first then elapsed = last - first end
    local out = {}
    local function put(fmt, ...) out[#out + 1] = string.format("BENCH " .. fmt, ...) end
    put("sent %d", total_sent)
    put("answered %d", total_answered)
    put("drains %d", total_drains)
    put("elapsed %.6f", elapsed)
    put("wrk_requests %d", summary.requests)
    put("errors_connect %d", summary.errors.connect)
    put("errors_read %d", summary.errors.read)
    put("errors_write %d", summary.errors.write)
    put("errors_timeout %d", summary.errors.timeout)
    put("p50_us %d", latency:percentile(50))
    put("p90_us %d", latency:percentile(90))
    put("p99_us %d", latency:percentile(99))
    put("max_us %d", latency.max)
    put("mean_us %.1f", latency.mean)
    local codes, good_total = {}, 0
    for k, v in pairs(st) do codes[#codes + 1] = k .. ":" .. v end
    table.sort(codes)
    put("statuses %s", #codes > 0 and table.concat(codes, ",") or "none")
    for _, op in ipairs({ "create", "get", "list", "patch", "add", "remove" }) do
        put("good_%s %d", op, g[op] or 0)
        good_total = good_total + (g[op] or 0)
    end
    put("good %d", good_total)
    put("bad %d", total_bad)
    if why ~= "" then put("first_bad %s", why) end
    for _, e in ipairs({ { "add", la, ca }, { "remove", lr, cr } }) do
        local name, lat, cpu = e[1], e[2], e[3]
        if #lat > 0 then
            local sum = 0
            for _, v in ipairs(lat) do sum = sum + v end
            put("%s_n %d", name, #lat)
            put("%s_mean_us %.1f", name, sum / #lat)
            put("%s_p50_us %d", name, percentile(lat, 50))
            put("%s_p99_us %d", name, percentile(lat, 99))
        end
        if cpu.n ~= nil and cpu.n > 0 then
            for _, k in ipairs({ "nginx", "workers", "mariadbd", "client", "machine", "wall", "n" }) do
                put("%s_cpu_%s %.3f", name, k, cpu[k] or 0)
            end
        end
    end
    io.write(table.concat(out, "\n") .. "\n")
end
