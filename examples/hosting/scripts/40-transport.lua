-- Transport: hosted mailboxes go to the local agent with their Maildir
-- and the customer's size limit as options; the server's own names go
-- to the local mailboxes of moonpost.toml; the rest to the MX (nil).
local config = require("config")

local mydestination = {}
for _, d in ipairs(config.mydestination) do mydestination[d] = true end

mta.on("transport", function(rcpt)
  local domain = hosting.domain(rcpt)
  if hosting.hosted(domain) then
    local box = hosting.mailbox(rcpt)
    if not box then return "error:5.1.1 User unknown in virtual mailbox table" end
    return {transport = "local", nexthop = domain,
            options = {mailbox = box, size_limit = hosting.size_limit(domain)}}
  end
  if domain == "" or mydestination[domain] then
    return {transport = "local", nexthop = domain}
  end
end)
