-- Header rules at cleanup time.
local config = require("config")
local lookup = require("lookup")

local checks = lookup.regexp("header_checks")

-- act applies one header_checks result: "HOLD text", "DISCARD text" or
-- "REJECT code enhanced text".
local function act(msg, result)
  local action, rest = result:match("^(%u+)%s*(.*)$")
  if action == "HOLD" then return mta.hold(rest) end
  if action == "DISCARD" then return mta.discard(rest) end
  if action == "REJECT" then
    local code, enhanced, text = rest:match("^(%d%d%d)%s+(%d%.%d+%.%d+)%s+(.*)$")
    return mta.reject(tonumber(code), enhanced, text)
  end
  error("header_checks: unknown action in " .. result)
end

mta.on("cleanup", function(msg)
  for _, name in ipairs({"Subject", "X-Mailer"}) do
    for _, value in ipairs(msg:headers(name)) do
      local r = checks:get(name .. ": " .. value)
      if r then return act(msg, r) end
    end
  end
  -- Remove what leaks the sender's network, rewrite the priority,
  -- add a trace of the policy.
  msg:remove_header("X-Originating-IP")
  if msg:header("X-Priority") then msg:set_header("X-Priority", "3 (Normal)") end
  local subject = msg:header("Subject")
  if subject and subject:match("^%s*$") then msg:set_header("Subject", "(no subject)") end
  msg:add_header("X-Policy", "header-rules on " .. config.myhostname)
end)

mta.on("transport", function(rcpt)
  local d = (rcpt:match("@(.+)$") or ""):lower()
  if d == "" or d == "example.test" then return {transport = "local", nexthop = d} end
end)
