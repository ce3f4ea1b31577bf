-- Cycle through a list of requests (method path content-type body-file per line of a manifest), pace each
-- connection with a fixed delay, and count answers whose status falls outside the expected range.
-- Usage: wrk -t1 -cN -dDs --latency -s mix.lua URL -- MANIFEST DELAY_MS LOW_STATUS HIGH_STATUS
-- Manifest lines: "POST /predict/sentiment application/json /path/to/body.json".
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local function read_file(path)
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   return data
end

function init(args)
   requests = {}
   for line in io.lines(args[1]) do
      local method, path, content_type, body_file = line:match("^(%S+)%s+(%S+)%s+(%S+)%s+(%S+)$")
      if method then
         local headers = {["Content-Type"] = content_type, ["Accept"] = "application/json"}
         table.insert(requests, wrk.format(method, path, headers, read_file(body_file)))
      end
   end
   assert(#requests > 0, "the manifest lists no requests")
   delay_ms = tonumber(args[2])
   low, high = tonumber(args[3]), tonumber(args[4])
   unexpected = 0
   statuses = ""
   turn = 0
end

function request()
   turn = turn + 1
   return requests[(turn - 1) % #requests + 1]
end

function delay()
   return delay_ms
end

function response(status, headers, body)
   if status < low or status > high then
      unexpected = unexpected + 1
      if #statuses < 200 then
         statuses = statuses .. tostring(status) .. " "
      end
   end
end

function done(summary, latency, requests)
   local unexpected_total = 0
   local seen = ""
   for _, thread in ipairs(threads) do
      unexpected_total = unexpected_total + thread:get("unexpected")
      seen = seen .. thread:get("statuses")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
      '"write_errors": %d, "timeouts": %d, "unexpected": %d, "unexpected_statuses": "%s", ' ..
      '"latency_mean_us": %.1f, "latency_max_us": %d, "p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, unexpected_total, seen,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(99)))
end
