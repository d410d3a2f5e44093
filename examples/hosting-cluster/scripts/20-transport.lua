-- Everything not for this node itself leaves through the relayhost.
local config = require("config")

local mine = {}
for _, d in ipairs(config.mydestination) do mine[d] = true end

mta.on("transport", function(rcpt)
  local domain = (rcpt:match("@([^@]*)$") or ""):lower()
  if domain == "" or mine[domain] then return {transport = "local", nexthop = domain} end
  return {transport = "smtp", nexthop = config.relayhost}
end)
