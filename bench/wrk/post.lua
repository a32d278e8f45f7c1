-- wrk script for bench/modalities.sh: POSTs the same body, read from a file, with a given
-- content type, and prints the WRKJSON summary line of chat.lua.
--
--   wrk -t1 -c8 -d10s --latency -s bench/wrk/post.lua URL -- BODY_FILE CONTENT_TYPE

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[2]
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
