-- wrk script for the `append-wrk` cross-check (bench/scenarios/append-wrk.ts): every request appends one
-- run.text_delta frame with a fresh frame_id, round-robin over the runs named on the command line.
-- Each wrk thread numbers its frames apart from the others'. wrk counts any status other than
-- 2xx/3xx as "Non-2xx or 3xx responses"; a replayed frame (a repeated frame_id) would be a 202
-- that appends nothing, which the ids rule out.
--   wrk -t1 -c32 -d10s -s bench/wrk/frames.lua <runtime-url> -- <label> <token> <run_id> [<run_id> ...]
-- <label> keeps two wrk runs against the same runs (a warm-up, then the measurement) apart.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local label
local token
local runs = {}
local counter = 0
local text = string.rep("x", 200)

function init(args)
  label = args[1]
  token = args[2]
  for i = 3, #args do runs[#runs + 1] = args[i] end
end

function request()
  counter = counter + 1
  local run = runs[(counter % #runs) + 1]
  local frame = label .. "-" .. tostring(thread_id) .. "-" .. counter
  local body = '{"frames":[{"frame_id":"' .. frame .. '","type":"run.text_delta","payload":{"text":"' .. text .. '"}}]}'
  return wrk.format("POST", "/api/runtime/runs/" .. run .. "/frames", {
    ["authorization"] = "Bearer " .. token,
    ["content-type"] = "application/json",
  }, body)
end
