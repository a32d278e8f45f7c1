-- wrk script for bench/cache.sh: POSTs the same non-streaming chat completion every time (so an
-- answer cache hits after the first), and prints the WRKJSON summary line of chat.lua.
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/same.lua URL -- MODEL [KEY]

local model = "mock-1"

function init(args)
  model = args[1] or model
  local key = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if key ~= nil and key ~= "" and key ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. key
  end
  wrk.body = string.format(
    '{"model":"%s","temperature":0,"messages":[{"role":"user","content":"What is a torii gate?"}]}',
    model)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors_status":%d,"errors_other":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
