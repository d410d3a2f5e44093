local throttle = require("throttle")
local redis = require("redis")

function Test_shared_burst_then_refusal(t)
  for i = 1, 3 do
    local ok, retry = throttle.check("tenant:a", "3/min")
    t:eq(ok, true)
    t:eq(retry, 0)
  end
  local ok, retry = throttle.check("tenant:a", "3/min")
  t:eq(ok, false)
  t:ok(retry > 19 and retry <= 20, "retry_after about 20s, got " .. tostring(retry))
  -- the state lives in Redis, where every node sees it
  t:ok(redis.call("GET", "moonpost:throttle:tenant:a") ~= nil, "key stored in Redis")
end

function Test_local_prefix_stays_in_node(t)
  t:eq(throttle.check("local:b", "1/h"), true)
  t:eq(throttle.check("local:b", "1/h"), false)
  t:eq(redis.call("EXISTS", "moonpost:throttle:local:b"), 0)
end

function Test_bad_rate(t)
  for _, r in ipairs({"10", "10/m", "0/s", "x/h", "1.5/s"}) do
    local ok, err = pcall(throttle.check, "k", r)
    t:ok(not ok, "rate " .. r .. " refused")
    t:ok(tostring(err):find("N/s, N/min or N/h") or tostring(err):find("whole number"), tostring(err))
  end
end
