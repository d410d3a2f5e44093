-- Rewritten by the reload test: every local recipient "load*" is an
-- alias of the mailbox named after the version of this file.
local version = "v0"
mta.on("alias", function(l, d)
  if l:match("^load") then return {version} end
end)
mta.on("cleanup", function(msg) msg:add_header("X-Policy-Version", version) end)
