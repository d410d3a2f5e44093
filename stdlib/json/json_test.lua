local json = require("json")

function Test_encode(t)
  t:eq(json.encode({a = 1, b = {1, 2}, c = "x\n"}), '{"a":1,"b":[1,2],"c":"x\\n"}')
  t:eq(json.encode({}), "[]")
  t:eq(json.encode(true), "true")
  t:eq(json.encode(json.null), "null")
  t:eq(json.encode(1.5), "1.5")
end

function Test_decode(t)
  local v = json.decode('{"a":[1,null,"x"],"b":{"c":true}}')
  t:eq(v.a[1], 1)
  t:eq(v.a[2], json.null)
  t:eq(v.a[3], "x")
  t:eq(v.b.c, true)
end

function Test_errors(t)
  local v, err = json.decode("{bad")
  t:eq(v, nil)
  t:ok(err ~= nil)
  local cyc = {}
  cyc.self = cyc
  v, err = json.encode(cyc)
  t:eq(v, nil)
  t:ok(err:find("deep") ~= nil, err)
  v, err = json.encode({f = print})
  t:eq(v, nil)
end

function Test_round_trip(t)
  local s = json.encode({list = {"a", "b"}, n = 3, ok = false})
  local v = json.decode(s)
  t:eq(v.list[2], "b")
  t:eq(v.n, 3)
  t:eq(v.ok, false)
end

function Test_encode_shared_subtables_bounded(t)
  local a = {"x"}
  for i = 1, 60 do a = {a, a} end -- 2^60 values if encoded in full
  local v, err = json.encode(a)
  t:eq(v, nil)
  t:ok(err:find("longer than") ~= nil, err)
end
