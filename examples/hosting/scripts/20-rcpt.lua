-- SMTP-time policy for hosted domains: refuse what would bounce later,
-- while the client is still connected, so no bounce ever goes to a
-- forged sender. Relay control (non-hosted domains) is the engine's.
mta.on("rcpt", function(s, rcpt)
  local domain = hosting.domain(rcpt)
  if not hosting.hosted(domain) then return nil end
  local targets = hosting.expand(rcpt)
  if not targets then
    return mta.reject(550, "5.1.1", "<" .. rcpt .. ">: Recipient address rejected: User unknown in virtual mailbox table")
  end
  -- s.size is the SIZE= of MAIL FROM (0 if undeclared). The limit is
  -- the smallest of the customers the mail ends up with: 552 5.2.3, a
  -- per-mailbox limit (5.3.4 is the server's own message_size_limit).
  for _, t in ipairs(targets) do
    local limit = hosting.size_limit(hosting.domain(t))
    if limit and s.size > limit then
      return mta.reject(552, "5.2.3", "<" .. rcpt .. ">: Message size exceeds the recipient's limit of " .. limit .. " bytes")
    end
  end
end)
