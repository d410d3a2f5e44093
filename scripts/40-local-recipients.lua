-- Unknown local users are refused at RCPT time with 550 5.1.1, as
-- Postfix does with local_recipient_maps, so nobody can create a
-- mailbox by sending to it and no bounce is owed to a forged sender.
-- A recipient of a mydestination domain (or with no domain) is known
-- when it is postmaster, a name in the aliases file (local.aliases), or
-- listed by a source of local_recipient_maps:
--   "passwd"   the system's accounts, and the user the daemon runs as
--   "aliases"  the aliases file (always consulted anyway)
--   a path     a lookup table of "user value" or "user@domain value"
--              lines (the value is not used), re-read when it changes
-- An empty local_recipient_maps turns the check off. Names are matched
-- case-insensitively, first whole ("alice+tag"), then without the
-- extension (local.recipient_delimiter), as the local agent looks up
-- aliases.
local config = require("config")
local lookup = require("lookup")

local maps = config.local_recipient_maps
if maps == nil then maps = {"passwd", "aliases"} end

-- sources are lookup tables, in-memory ones first and the account
-- database last; full says whether "user@domain" keys are looked up too
-- (tables), besides bare names (all of them).
local sources, listed, use_passwd = {}, 0, false
local aliases_path = (config["local"] or {}).aliases or ""
if aliases_path ~= "" then
  sources[#sources + 1] = {table = lookup.aliases(aliases_path), full = false}
end
for _, m in ipairs(maps) do
  listed = listed + 1
  if m == "passwd" then
    use_passwd = true
  elseif m ~= "aliases" then
    sources[#sources + 1] = {table = lookup.file(m), full = true}
  end
end
if listed == 0 then return end -- local_recipient_maps = []: the check is off
if use_passwd then sources[#sources + 1] = {table = lookup.passwd(), full = false} end

local delimiters = (config["local"] or {}).recipient_delimiter or "+"
local mydestination = {}
for _, d in ipairs(config.mydestination or {}) do mydestination[d:lower()] = true end

-- split returns the local part and the domain (lower case, no trailing
-- dot) of an address; the domain is after the last "@", so a quoted
-- "a@b" stays in the local part.
local function split(addr)
  local at = addr:match("^.*()@")
  if not at then return addr, "" end
  local domain = addr:sub(at + 1):lower():gsub("%.$", "")
  return addr:sub(1, at - 1), domain
end

-- names are the lookup keys of a local part: whole, then without its
-- extension (a leading delimiter is part of the name).
local function names(local_part)
  local lp = local_part:lower()
  local out = {lp}
  if delimiters ~= "" then
    for i = 2, #lp do
      if delimiters:find(lp:sub(i, i), 1, true) then
        out[2] = lp:sub(1, i - 1)
        break
      end
    end
  end
  return out
end

local function known(local_part, domain)
  for _, name in ipairs(names(local_part)) do
    if name == "postmaster" then return true end
    -- A name holding "@" (a quoted local part) is never a bare key, so
    -- "\"alice@example.org\""@example.org cannot pass as alice.
    local bare = not name:find("@", 1, true)
    for _, s in ipairs(sources) do
      if bare and s.table:get(name) then return true end
      if s.full and domain ~= "" and s.table:get(name .. "@" .. domain) then return true end
    end
  end
  return false
end

local function is_local(domain) return domain == "" or mydestination[domain] == true end

local function check(rcpt)
  local local_part, domain = split(rcpt)
  if not is_local(domain) or known(local_part, domain) then return nil end
  return mta.reject(550, "5.1.1", "<" .. rcpt .. ">: Recipient address rejected: User unknown in local recipient table")
end

mta.on("rcpt", function(s, rcpt) return check(rcpt) end)

mta.selftest(function()
  assert(check("x@remote.invalid") == nil, "remote recipients are not checked here")
  for d in pairs(mydestination) do
    assert(check("PostMaster@" .. d) == nil, "postmaster is always known")
    assert(check('"v3@example.net"@' .. d) ~= nil, "a quoted local part is not a user")
  end
end)
