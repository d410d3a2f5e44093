-- Routing from two tables, checked in this order:
--   tables/transport     recipient address or domain -> transport(5) string
--   tables/sender_relay  envelope sender -> smarthost
-- then local delivery for mydestination, then the MX of the domain.
local lookup = require("lookup")
local address = require("address")

local transport = lookup.file("tables/transport")
local sender_relay = lookup.file("tables/sender_relay")

local function route(rcpt, sender)
  local _, domain = address.split(rcpt)
  domain = (domain or ""):lower()
  if mta.domain_class(domain) == "local" then
    local r = transport:get(rcpt)   -- one local address may go elsewhere
    return r or {transport = "local", nexthop = domain}
  end
  local r = transport:get(rcpt) or transport:get(domain)
  if r then return r end
  local relay = sender and sender_relay:get(sender)
  if relay then return {transport = "smtp", nexthop = relay} end
  return {transport = "smtp", nexthop = domain}
end

mta.on("transport", function(rcpt, m) return route(rcpt, m.sender) end)

mta.selftest(function()
  assert(route("a@example.test", "").transport == "local")
  assert(route("x@nowhere.invalid", "").nexthop == "nowhere.invalid")
end)
