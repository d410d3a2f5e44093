-- Local domains are delivered locally (an operator folder replaces the
-- shipped scripts, so it says so itself).
local config = require("config")
mta.on("transport", function(rcpt)
  local d = rcpt:match("@(.+)$") or ""
  for _, l in ipairs(config.mydestination) do
    if d:lower() == l then return {transport = "local", nexthop = d} end
  end
end)
