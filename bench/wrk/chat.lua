-- wrk script for bench/run.sh: POSTs a non-streaming chat completion with a unique prompt index
-- per request (so no cache can hit) and prints one JSON summary line at the end.
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/chat.lua URL -- MODEL [KEY] [HEADER:VALUE]...
--
-- MODEL: the "model" field. KEY: sent as "Authorization: Bearer KEY" ("-" or empty: none).
-- Further arguments are extra request headers ("name:value").

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local model = "mock-1"
local n = 0

function init(args)
  model = args[1] or model
  local key = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if key ~= nil and key ~= "" and key ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. key
  end
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

function request()
  n = n + 1
  local body = string.format(
    '{"model":"%s","messages":[{"role":"user","content":"bench prompt %d-%d: say hi"}]}',
    model, tid or 0, n)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
