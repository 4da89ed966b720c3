-- wrk script: every request is a new, validly signed Bot.OnC2CMessage from a new user.
-- The Sign covers only token + RequestTime, so one signed query string (BENCH_PATH) serves the
-- whole run; the body varies by a counter, so MsgSeq, MsgRandom, MsgKey and From_Account are unique.
local path = os.getenv("BENCH_PATH")
local prefix = os.getenv("BENCH_PREFIX")
local now = os.getenv("BENCH_TIME")
local template = '{"CallbackCommand":"Bot.OnC2CMessage","From_Account":"%s","To_Account":"@RBT#001",'
    .. '"MsgSeq":%d,"MsgRandom":%d,"MsgTime":%s,"MsgKey":"%d_%d_%s",'
    .. '"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"q %s"}}]}'
local headers = {["Content-Type"] = "application/json"}
local threads = 0
local counter = 0

function setup(thread)
    thread:set("thread_number", threads)
    threads = threads + 1
end

function request()
    counter = counter + 1
    local seq = thread_number * 100000000 + counter
    local random = seq * 7919 % 4294967295
    local user = prefix .. seq
    local body = string.format(template, user, seq, random, now, seq, random, now, user)
    return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,'
            .. '"p50_us":%d,"p99_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
