-- Address rewriting, as Postfix does out of the box: a bare user name
-- ("alice", as sendmail and old clients give it) gets "@" .. myorigin,
-- in the envelope and in the headers alike. Addresses with a domain are
-- left alone.
local config = require("config")

local origin = config.myorigin or ""

local function append_origin(addr)
  if addr == "" or addr:find("@", 1, true) or origin == "" then return nil end
  return addr .. "@" .. origin
end

mta.on("rewrite", function(addr, ctx) return append_origin(addr) end)

mta.selftest(function()
  assert(append_origin("u@d") == nil, "an address with a domain is kept")
  assert(append_origin("") == nil, "the null sender is kept")
  if origin ~= "" then assert(append_origin("u") == "u@" .. origin) end
end)
