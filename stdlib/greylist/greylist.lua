-- greylist: defer the first attempt of an unknown (client network,
-- sender, recipient) triplet; accept its retry after the delay. State is
-- in kv, so it survives script reloads (not daemon restarts).
local kv = require("kv")
local clock = require("time")

local M = {}
local G = {}
G.__index = G

-- A store keeps the state: get, set (with a TTL in seconds), add (set
-- unless present), delete, incr (by n, the TTL set on creation).
local stores = {}

stores.kv = {
  get = kv.get, set = kv.set, delete = kv.delete, incr = kv.incr,
  add = function(k, v, ttl)
    if kv.get(k) == nil then kv.set(k, v, ttl) end
  end,
}

-- Redis values are strings: numbers come back as numbers, "1" marks a
-- flag. An unreachable Redis raises an error, so the hook answers
-- 451 4.3.0 rather than accept unchecked mail.
local function redis_store()
  local redis = require("redis")
  local function ttl(t) return math.max(1, math.ceil(t)) end
  local function flag(v) if v == true then return "1" end return tostring(v) end
  return {
    get = function(k)
      local v = redis.call("GET", k)
      if v == nil then return nil end
      return tonumber(v) or v
    end,
    set = function(k, v, t) redis.call("SET", k, flag(v), "EX", ttl(t)) end,
    add = function(k, v, t) redis.call("SET", k, flag(v), "EX", ttl(t), "NX") end,
    delete = function(k) redis.call("DEL", k) end,
    incr = function(k, n, t)
      local r = redis.call("INCRBY", k, n)
      if r == n then redis.call("EXPIRE", k, ttl(t)) end
      return r
    end,
  }
end

local defaults = {
  delay = 300,             -- seconds before a retry passes (Postfix postgrey: 300)
  retry_window = 2 * 86400, -- a first attempt is forgotten after this
  lifetime = 35 * 86400,   -- a passed triplet or client is remembered this long
  auto_allow = 5,          -- passes from one client network before it skips greylisting; 0: never
  prefix = "greylist:",
  store = "kv",            -- or "redis"
  code = 450, enhanced = "4.2.0", text = "Greylisted, please try again later",
}
local known = {allow = true, now = true}
for k in pairs(defaults) do known[k] = true end

-- new(opts): opts may set any of the defaults above, plus allow = a
-- list of client networks ("192.0.2.0/24", "2001:db8::/32") and sender
-- domains ("example.org") never greylisted, and now = a clock function.
function M.new(opts)
  opts = opts or {}
  local g = setmetatable({nets = {}, domains = {}}, G)
  for k, v in pairs(opts) do
    if not known[k] then error("greylist.new: unknown option " .. tostring(k), 2) end
  end
  for k, v in pairs(defaults) do g[k] = opts[k] or v end
  g.now = opts.now or clock.now
  if g.store == "redis" then
    g.db = redis_store()
  elseif g.store == "kv" then
    g.db = stores.kv
  else
    error("greylist.new: store must be \"kv\" or \"redis\", not " .. tostring(g.store), 2)
  end
  for _, a in ipairs(opts.allow or {}) do
    if a:find("/") or M._net(a) then table.insert(g.nets, a) else g.domains[a:lower()] = true end
  end
  return g
end

function G:allowed(s, sender)
  if s.trusted or (s.auth_user and s.auth_user ~= "") then return true end
  for _, n in ipairs(self.nets) do
    if M._in_net(s.client.addr, n) then return true end
  end
  local domain = (sender or ""):match("@([^@]+)$")
  return domain ~= nil and self.domains[domain:lower()] == true
end

-- check(s, to) is for a rcpt handler: nil to go on, or a deferral.
function G:check(s, to)
  local sender = s.sender or ""
  if self:allowed(s, sender) then return nil end
  local net = M._net(s.client.addr)
  if not net then return nil end -- a local submission has no client address
  local p, db = self.prefix, self.db
  if db.get(p .. "auto:" .. net) then return nil end
  local triplet = net .. "|" .. sender:lower() .. "|" .. to:lower()
  if db.get(p .. "pass:" .. triplet) then return nil end
  local now = self.now()
  local first = db.get(p .. "seen:" .. triplet)
  if first == nil then
    -- add, not set: with nodes sharing Redis the first node's time stands
    db.add(p .. "seen:" .. triplet, now, self.retry_window)
    return mta.defer(self.code, self.enhanced, self.text)
  end
  if now - first < self.delay then
    return mta.defer(self.code, self.enhanced, self.text)
  end
  db.set(p .. "pass:" .. triplet, true, self.lifetime)
  db.delete(p .. "seen:" .. triplet)
  local n = db.incr(p .. "count:" .. net, 1, self.lifetime)
  if self.auto_allow > 0 and n >= self.auto_allow then
    db.set(p .. "auto:" .. net, true, self.lifetime)
  end
  return nil
end

return M
