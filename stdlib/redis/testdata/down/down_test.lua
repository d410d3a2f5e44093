local redis = require("redis")

function Test_down_is_an_error(t)
  local ok, err = pcall(redis.call, "GET", "k")
  t:ok(not ok, "redis down raises")
  t:ok(tostring(err):find("redis"), tostring(err))
end
