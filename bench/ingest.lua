-- wrk script for the ingest benchmark: POSTs pre-generated, pre-signed inbound webhooks.
--
-- Usage: wrk -t T -c C -d D -s bench/ingest.lua http://127.0.0.1:PORT -- BODIES_FILE T
-- BODIES_FILE has one request per line: "<X-Twilio-Signature>\t<urlencoded form body>".
-- Thread k sends lines k, k+T, k+2T, ... so every MessageSid is posted at most once (each
-- request is a real INSERT + enqueue). If a thread runs out it wraps around and counts the
-- wrap: run.py generates enough bodies that this does not happen, and reports it if it does.
-- done() prints one line "BENCHJSON {...}" that run.py parses.

local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end

function init(args)
   local path = args[1]
   local nthreads = tonumber(args[2])
   reqs = {}
   local i = 0
   for line in io.lines(path) do
      if i % nthreads == tid then
         local sig, body = line:match("^([^\t]*)\t(.*)$")
         reqs[#reqs + 1] = wrk.format("POST", "/sms/inbound", {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["X-Twilio-Signature"] = sig,
         }, body)
      end
      i = i + 1
   end
   idx = 0
   wrapped = 0
   non2xx = 0
end

function request()
   idx = idx + 1
   if idx > #reqs then
      idx = 1
      wrapped = wrapped + 1
   end
   return reqs[idx]
end

function response(status, headers, body)
   if status ~= 200 then
      non2xx = non2xx + 1
   end
end

threads_seen = {}
local orig_setup = setup
function setup(thread)
   orig_setup(thread)
   table.insert(threads_seen, thread)
end

function done(summary, latency, requests)
   local wraps, bad = 0, 0
   for _, t in ipairs(threads_seen) do
      wraps = wraps + (t:get("wrapped") or 0)
      bad = bad + (t:get("non2xx") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"non200": %d, "wrapped": %d, ' ..
      '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d, "p999": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout, bad, wraps,
      latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency:percentile(99.9)))
end
