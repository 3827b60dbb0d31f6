-- wrk's side of `python -m bench serve`: each request joins a new device to one event.
-- Arguments after `--`: the join path, then a number that makes this run's devices and names
-- its own (names are unique in an event).
-- At the end it prints one line, "result <json>", that bench/serve.py reads.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  nonce = tonumber(args[2]) or 1
  count = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  count = count + 1
  local body = string.format(
    '{"device_id":"%08x-%04x-4000-8000-%012x","display_name":"w%dt%dn%d"}',
    nonce, id, count, nonce, id, count
  )
  return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'result {"requests":%d,"duration_us":%d,"status":%d,"connect":%d,'
      .. '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)
  ))
end
