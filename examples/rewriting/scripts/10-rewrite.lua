-- Address rewriting, in Postfix's order: append myorigin to bare names,
-- then the canonical map, then masquerading.
local config = require("config")
local lookup = require("lookup")
local address = require("address")

local canonical = lookup.file("canonical")
-- masquerade_domains: user@any.host.example.test -> user@example.test
local masquerade = {"example.test"}

local function masq(addr)
  local l, d = address.split(addr)
  if not d then return addr end
  for _, m in ipairs(masquerade) do
    if d:sub(-(#m + 1)) == "." .. m then return l .. "@" .. m end
  end
  return addr
end

local function rewrite(addr, ctx)
  if addr == "" then return nil end
  local out = addr
  if not out:find("@", 1, true) then out = out .. "@" .. config.myorigin end
  out = canonical:get(out) or out
  -- Postfix masquerades senders and header recipients, not envelope
  -- recipients (mail for root@host.example.test still reaches that host).
  if ctx.role == "sender" or ctx.where == "header" then out = masq(out) end
  if out ~= addr then return out end
end

mta.on("rewrite", rewrite)

mta.on("transport", function(rcpt)
  local _, d = address.split(rcpt)
  if d == config.myorigin then return {transport = "local", nexthop = d} end
end)

mta.selftest(function()
  assert(rewrite("root@host.example.test", {role = "sender"}) == "root@example.test")
  assert(rewrite("root@host.example.test", {role = "recipient", where = "envelope"}) == nil)
  assert(rewrite("info", {role = "recipient", where = "envelope"}) == "alice@example.test")
end)
