-- Aliases for local recipients from the configured aliases(5) file
-- (local.aliases), re-read when the file changes. The local delivery
-- agent asks only for recipients in mydestination, and expands the
-- targets again (nested aliases, |command, /file, :include:).
local config = require("config")
local lookup = require("lookup")

local path = (config["local"] or {}).aliases or ""
if path == "" then return end

local aliases = lookup.aliases(path)

mta.on("alias", function(local_part, domain)
  return aliases:get(local_part)
end)
