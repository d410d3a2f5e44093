-- Transport selection, Postfix's defaults: domains in mydestination (and
-- bare names) are delivered locally; everything else goes to the
-- relayhost when one is set, else over SMTP to the MX of the recipient's
-- domain.
local config = require("config")

local relayhost = config.relayhost or ""

local function route(rcpt)
  local domain = (rcpt:match("@([^@]*)$") or ""):lower():gsub("%.$", "")
  if mta.domain_class(domain) == "local" then
    return {transport = "local", nexthop = domain}
  end
  if relayhost ~= "" then return {transport = "smtp", nexthop = relayhost} end
  return {transport = "smtp", nexthop = domain}
end

mta.on("transport", function(rcpt, m) return route(rcpt) end)

mta.selftest(function()
  local r = route("u@remote.invalid")
  assert(r.transport == "smtp", "remote mail goes out over SMTP")
  assert(route("u").transport == "local", "a bare name is local")
  for _, d in ipairs(config.mydestination or {}) do assert(route("u@" .. d:upper()).transport == "local") end
end)
