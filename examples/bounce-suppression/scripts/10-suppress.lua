-- Per-tenant suppression of recipients that bounced as unknown.
--
-- The tenant is the sender's domain, chosen at MAIL FROM and kept with
-- the message (s:set_meta). A bounce of class invalid_recipient puts the
-- recipient on that tenant's suppression list for 30 days; the tenant's
-- next message to it is refused at RCPT TO, so it never goes out and
-- the receiver never sees the tenant mail a dead address twice. Other
-- tenants are not affected.
local kv = require("kv")
local log = require("log")

local SUPPRESS_FOR = 30 * 86400

local function key(tenant, rcpt)
  return "suppress:" .. (tenant or "") .. ":" .. rcpt:lower()
end

mta.on("mail", function(s, from)
  s:set_meta("tenant", (from:match("@(.+)$") or ""):lower())
end)

mta.on("rcpt", function(s, rcpt)
  if kv.get(key(s:meta("tenant"), rcpt)) then
    return mta.reject(550, "5.1.1", "recipient suppressed: an earlier message to it bounced")
  end
end)

mta.on("bounced", function(ev)
  if ev.class ~= "invalid_recipient" then
    return
  end
  kv.set(key(ev.meta.tenant, ev.recipient), ev.status.enhanced, SUPPRESS_FOR)
  log.info("recipient suppressed", {tenant = ev.meta.tenant, recipient = ev.recipient, class = ev.class})
end)
