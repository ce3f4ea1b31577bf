-- POST one fixed body on every request; count non-2xx responses; print a JSON summary line.
-- Usage: wrk -t1 -cN -dDs --latency -s post.lua URL -- BODY_FILE CONTENT_TYPE [AUTHORIZATION] ["Name: value" ...]
-- (AUTHORIZATION: e.g. "Bearer TOKEN" for modelport hosting, which answers only requests with its token, or "";
-- more headers after it, e.g. Triton's "Inference-Header-Content-Length: 120" for its binary tensor bodies)
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.method = "POST"
   wrk.body = file:read("*a")
   file:close()
   wrk.headers["Content-Type"] = args[2]
   wrk.headers["Accept"] = "application/json"
   if args[3] ~= nil and args[3] ~= "" then
      wrk.headers["Authorization"] = args[3]
   end
   for i = 4, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      if name then
         wrk.headers[name] = value
      end
   end
   non2xx = 0
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local non2xx_total = 0
   for _, thread in ipairs(threads) do
      non2xx_total = non2xx_total + thread:get("non2xx")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, "non2xx": %d, ' ..
      '"latency_mean_us": %.1f, "latency_max_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
      '"p999_us": %d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, non2xx_total, latency.mean, latency.max, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
