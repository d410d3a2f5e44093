local lookup = require("lookup")
local redis = require("redis")
local sql = require("sql")

function Test_redis_table(t)
  redis.call("SET", "limit:acme", "500/h")
  redis.call("HSET", "tenant:acme", "rate", "20/min")
  local limits = lookup.redis{prefix = "limit:", ttl = 60, negative_ttl = 5}
  t:eq(limits:get("acme"), "500/h")
  t:eq(limits:get("nobody"), nil)
  t:eq(limits:error(), nil)
  local rates = lookup.redis{prefix = "tenant:", field = "rate"}
  t:eq(rates:get("acme"), "20/min")
  t:eq(rates:get("globex"), nil)
end

function Test_redis_table_is_cached(t)
  local tbl = lookup.redis{prefix = "cached:", ttl = 60, negative_ttl = 60}
  redis.call("SET", "cached:a", "old")
  t:eq(tbl:get("a"), "old")
  t:eq(tbl:get("b"), nil)
  redis.call("SET", "cached:a", "new")
  redis.call("SET", "cached:b", "now")
  t:eq(tbl:get("a"), "old", "found value served from the cache")
  t:eq(tbl:get("b"), nil, "miss served from the negative cache")
  local fresh = lookup.redis{prefix = "cached:", ttl = 0, negative_ttl = 0}
  t:eq(fresh:get("a"), "new")
end

function Test_sql_table(t)
  local tenants = lookup.sql{db = "tenants", query = "SELECT tenant FROM domains WHERE domain = ?"}
  t:eq(tenants:get("example.com"), "acme")
  t:eq(tenants:get("example.net"), nil)
  local rows = lookup.sql{db = "tenants", query = "SELECT tenant, plan FROM domains WHERE domain = ?"}
  local r = rows:get("example.org")
  t:eq(r.tenant, "globex")
  t:eq(r.plan, nil)
  sql.exec("tenants", "UPDATE domains SET tenant = 'other' WHERE domain = ?", "example.com")
  t:eq(tenants:get("example.com"), "acme", "cached")
end

function Test_bad_options(t)
  local ok, err = pcall(lookup.sql, {db = "tenants", querry = "x"})
  t:ok(not ok and tostring(err):find("unknown option"), tostring(err))
  ok, err = pcall(lookup.sql, {db = "nope", query = "SELECT 1"})
  t:ok(not ok and tostring(err):find("no database"), tostring(err))
  ok, err = pcall(lookup.redis, {ttl = -1})
  t:ok(not ok and tostring(err):find("at least 0"), tostring(err))
  ok, err = pcall(lookup.sql, {db = "tenants"})
  t:ok(not ok and tostring(err):find("query is required"), tostring(err))
end
