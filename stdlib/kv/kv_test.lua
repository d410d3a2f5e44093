local kv = require("kv")

function Test_set_get_delete(t)
  kv.set("a", "x")
  t:eq(kv.get("a"), "x")
  kv.set("b", 3)
  t:eq(kv.get("b"), 3)
  kv.delete("a")
  t:eq(kv.get("a"), nil)
  kv.set("b", nil)
  t:eq(kv.get("b"), nil)
end

function Test_incr(t)
  t:eq(kv.incr("n"), 1)
  t:eq(kv.incr("n", 5), 6)
  kv.set("s", "str")
  t:ok(not pcall(kv.incr, "s", 1), "incr on a string raises")
end

function Test_bad_values(t)
  t:ok(not pcall(kv.set, "t", {}), "tables are refused")
  t:ok(not pcall(kv.set, "t", "v", -1), "negative ttl")
end
