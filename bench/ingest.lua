-- wrk script of bench/ingest.py: POSTs bodies from a pool file (one per line) in turn.
--
--   wrk -t1 -c CONNS -d SECS -s bench/ingest.lua URL -- POOL_FILE FIRST_LINE COUNT CONTENT_TYPE
--       READY_FILE
--
-- Lines FIRST_LINE+1 .. FIRST_LINE+COUNT are sent in order; past the last one wrk starts them
-- again (repeats, which gpb answers as duplicates). The requests are formatted up front and no
-- response goes through Lua, which keeps wrk fast. READY_FILE is created once they are, just
-- before the load starts. done() prints one JSON line for bench/ingest.py.

local requests = {}
local position = 1

function init(args)
  local path, first, count = args[1], tonumber(args[2]), tonumber(args[3])
  local headers = {["Content-Type"] = args[4]}
  local number = 0
  for line in io.lines(path) do
    number = number + 1
    if number > first + count then
      break
    end
    if number > first then
      requests[#requests + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  io.open(args[5], "w"):close()
end

function request()
  local next_request = requests[position]
  position = position % #requests + 1
  return next_request
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"not_2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
