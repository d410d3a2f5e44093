-- Honour the sender domain's DMARC policy (RFC 7489). msg.auth is nil
-- for mail that originates here (it is not checked); otherwise
-- msg.auth.dmarc.disposition is what the From domain asks for this
-- message: "reject", "quarantine" or "none" (pct= already applied).
mta.on("cleanup", function(msg)
  local a = msg.auth
  if a == nil or a.dmarc.result ~= "fail" then
    return nil
  end
  local d = a.dmarc
  if d.disposition == "reject" then
    return mta.reject(550, "5.7.1", "Rejected by the DMARC policy of " .. d.domain)
  elseif d.disposition == "quarantine" then
    return mta.hold("DMARC quarantine: " .. d.domain)
  end
end)

-- This example's scripts folder replaces the shipped one, so it routes
-- its own domain to local delivery.
mta.on("transport", function(rcpt)
  local d = (rcpt:match("@(.+)$") or ""):lower()
  if d == "" or d == "example.test" then return {transport = "local", nexthop = d} end
end)
