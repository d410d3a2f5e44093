-- Refuse at RCPT the recipients of our domains that are not in "users".
-- The table is re-read when the file changes.
local lookup = require("lookup")
local address = require("address")

local users = lookup.file("users")
local function is_local(rcpt)
  local _, domain = address.split(rcpt)
  return domain ~= nil and mta.domain_class(domain) == "local"
end

mta.on("rcpt", function(s, rcpt)
  if is_local(rcpt) and not users:get(address.strip_extension(rcpt)) then
    return mta.reject(550, "5.1.1", "<" .. rcpt .. ">: Recipient address rejected: User unknown")
  end
end)

mta.on("transport", function(rcpt)
  if is_local(rcpt) then return {transport = "local", nexthop = rcpt:match("@(.+)$"):lower()} end
end)

mta.selftest(function()
  assert(users:get("alice@example.test"), "the users table has alice")
  assert(is_local("x@example.test") and not is_local("x@other.test"))
end)
