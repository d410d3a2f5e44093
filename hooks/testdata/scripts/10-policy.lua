-- A small policy used by hooks_test.go through the Lua test runner.
local address = require("address")
local config = require("config")

mta.on("rewrite", function(addr, c)
  if c.role == "sender" then
    local l, d = address.split(addr)
    if d == "host." .. config.mydomain then return l .. "@" .. config.mydomain end
  end
end)

mta.on("rcpt", function(s, to)
  if to == "nobody@" .. config.mydomain then return mta.reject(550, "5.1.1", "User unknown") end
end)

mta.on("cleanup", function(msg)
  msg:add_header("X-Policy", "seen")
  if msg:header("Subject") == "hold me" then return mta.hold("asked for it") end
end)

mta.on("transport", function(rcpt)
  if rcpt:find("@lmtp%.") then return "lmtp:unix:/run/lmtp" end
end)
