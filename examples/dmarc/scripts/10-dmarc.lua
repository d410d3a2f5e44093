-- Honour the sender domain's DMARC policy (RFC 7489). The results are
-- hdr.auth in the "data" hook and msg.auth in "cleanup": nil for mail
-- that originates here (it is not checked); otherwise
-- auth.dmarc.disposition is what the From domain asks for this
-- message: "reject", "quarantine" or "none" (pct= already applied).

-- p=reject: refuse at DATA, as an SMTP decision about this session.
mta.on("data", function(s, hdr)
  local a = hdr.auth
  if a ~= nil and a.dmarc.result == "fail" and a.dmarc.disposition == "reject" then
    return mta.reject(550, "5.7.1", "Rejected by the DMARC policy of " .. a.dmarc.domain)
  end
end)

-- p=quarantine: accept, and park the message in hold/.
mta.on("cleanup", function(msg)
  local a = msg.auth
  if a ~= nil and a.dmarc.result == "fail" and a.dmarc.disposition == "quarantine" then
    return mta.hold("DMARC quarantine: " .. a.dmarc.domain)
  end
end)

-- This example's scripts folder replaces the shipped one, so it routes
-- its own domain to local delivery.
mta.on("transport", function(rcpt)
  local d = (rcpt:match("@(.+)$") or ""):lower()
  if d == "" or d == "example.test" then return {transport = "local", nexthop = d} end
end)
