-- A tenant (the sender's domain) may send RATE messages, counted by
-- every node together through Redis.
local throttle = require("throttle")

mta.on("mail", function(s, from)
  local tenant = (from:match("@(.+)$") or ""):lower()
  if tenant == "" then return nil end
  local ok, retry_after = throttle.check("tenant:" .. tenant, "RATE")
  if not ok then
    return mta.defer(450, "4.7.1", "sending limit of tenant " .. tenant .. " reached, retry in " .. math.ceil(retry_after) .. "s")
  end
end)
