local redis = require("redis")

function Test_strings_and_counters(t)
  t:eq(redis.call("SET", "k", "v"), "OK")
  t:eq(redis.call("GET", "k"), "v")
  t:eq(redis.call("GET", "missing"), nil)
  t:eq(redis.call("INCR", "n"), 1)
  t:eq(redis.call("incrby", "n", 41), 42)
  t:eq(redis.call("SET", "t", "x", "EX", 60), "OK")
  local ttl = redis.call("TTL", "t")
  t:ok(ttl > 0 and ttl <= 60, "ttl " .. ttl)
end

function Test_arrays_and_hashes(t)
  redis.call("RPUSH", "l", "a", "b", 3)
  local l = redis.call("LRANGE", "l", 0, -1)
  t:eq(#l, 3)
  t:eq(l[3], "3")
  redis.call("HSET", "h", "f", "v")
  local m = redis.call("MGET", "k", "nope")
  t:eq(m[1], "v")
  t:eq(m[2], false)
  t:eq(redis.call("HGET", "h", "f"), "v")
end

function Test_errors(t)
  redis.call("SET", "s", "str")
  local ok, err = pcall(redis.call, "INCR", "s")
  t:ok(not ok and tostring(err):find("not an integer"), tostring(err))
  for _, cmd in ipairs({"SUBSCRIBE", "flushall", "SELECT", "MULTI", "CONFIG", "KEYS"}) do
    ok, err = pcall(redis.call, cmd, "x")
    t:ok(not ok and tostring(err):find("not allowed"), cmd .. ": " .. tostring(err))
  end
  ok, err = pcall(redis.call, "SET", "k", {})
  t:ok(not ok and tostring(err):find("argument 3"), tostring(err))
  t:ok(not pcall(redis.call), "no command")
end
