local throttle = require("throttle")

function Test_fail_closed(t)
  local ok, err = pcall(throttle.check, "tenant:a", "3/min")
  t:ok(not ok, "an unreachable Redis is an error")
  t:ok(tostring(err):find("shared limit unavailable"), tostring(err))
  -- local: keys do not need Redis
  t:eq(throttle.check("local:a", "3/min"), true)
end
