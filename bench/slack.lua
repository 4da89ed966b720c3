-- wrk script: every request is a new Slack event, signed the Slack way. Slack's signature covers
-- the body, and wrk's Lua has no HMAC, so run.py signs the events beforehand and writes one per
-- line of BENCH_EVENTS ("timestamp<TAB>signature<TAB>body"); this script sends them in turn,
-- from number BENCH_FIRST on (past the ones a warm-up run sent).
local path = os.getenv("BENCH_PATH")
local first = tonumber(os.getenv("BENCH_FIRST") or "0")
local events = {}
local next_event = 1

function init(args)
    for line in io.lines(os.getenv("BENCH_EVENTS")) do
        local timestamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
        events[#events + 1] = wrk.format("POST", path, {
            ["Content-Type"] = "application/json",
            ["X-Slack-Request-Timestamp"] = timestamp,
            ["X-Slack-Signature"] = signature,
        }, body)
    end
    next_event = first % #events + 1
end

function request()
    local event = events[next_event]
    next_event = next_event % #events + 1
    return event
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,'
            .. '"p50_us":%d,"p99_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
