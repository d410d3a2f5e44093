local throttle = require("throttle")

function Test_node_local(t)
  t:eq(throttle.check("tenant:nolocal", "2/s"), true)
  t:eq(throttle.check("tenant:nolocal", "2/s"), true)
  local ok, retry = throttle.check("tenant:nolocal", "2/s")
  t:eq(ok, false)
  t:ok(retry > 0 and retry <= 0.5, "retry " .. retry)
end
