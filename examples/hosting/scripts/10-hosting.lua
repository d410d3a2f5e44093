-- The hosting tables and what they mean, shared by the other scripts
-- through the global "hosting" (every script runs in the same Lua state,
-- in file-name order, so this one comes first).
--
--   tables/domains    domain -> customer
--   tables/customers  customer -> size limit in bytes
--   tables/mailboxes  address -> Maildir under the mail root
--   tables/virtual    address or @domain -> targets, comma separated
--
-- Tables are re-read when their files change: a new mailbox or alias
-- needs no reload.
local config = require("config")
local lookup = require("lookup")
local address = require("address")

local domains = lookup.file("tables/domains")
local customers = lookup.file("tables/customers")
local mailboxes = lookup.file("tables/mailboxes")
local virtual = lookup.file("tables/virtual")

-- The mail root: the first of local.mailbox_dirs, absolute.
local root = (config["local"].mailbox_dirs or {})[1]

-- At most this many alias levels; deeper is taken for a loop.
local max_depth = 8

hosting = {}

-- domain returns the lower-cased domain of addr ("" for a bare name).
function hosting.domain(addr)
  local _, d = address.split(addr)
  return (d or ""):lower()
end

function hosting.hosted(domain)
  return domains:get(domain) ~= nil
end

-- size_limit is the customer's limit for a domain, or nil.
function hosting.size_limit(domain)
  local customer = domains:get(domain)
  return customer and tonumber(customers:get(customer))
end

-- mailbox returns the absolute Maildir of a mailbox address, or nil.
-- "alice+tag@" is alice's mailbox.
function hosting.mailbox(addr)
  local rel = mailboxes:get(address.strip_extension(addr))
  if rel and root then return root .. "/" .. rel end
end

local function split_targets(value)
  local out = {}
  for t in value:gmatch("[^,%s]+") do out[#out + 1] = t end
  return out
end

local function expand(addr, depth, out)
  if depth > max_depth then error("alias loop at " .. addr) end
  local domain = hosting.domain(addr)
  if not hosting.hosted(domain) then
    out[#out + 1] = addr   -- a remote target: mail is forwarded there
    return true
  end
  local targets = virtual:get(address.strip_extension(addr))
  if not targets and hosting.mailbox(addr) then
    out[#out + 1] = addr
    return true
  end
  targets = targets or virtual:get("@" .. domain)
  if not targets then return false end
  for _, t in ipairs(split_targets(targets)) do
    if t:lower() == addr:lower() then
      -- "a@d: a@d, b@d" keeps a copy in a@d's own mailbox.
      if not hosting.mailbox(t) then return false end
      out[#out + 1] = t
    elseif not expand(t, depth + 1, out) then
      return false
    end
  end
  return true
end

-- expand returns the final addresses mail for addr goes to: itself for
-- a mailbox, else its alias's targets, else the domain's catch-all's,
-- expanded again; nil when addr (or a target) exists nowhere. Aliases
-- win over mailboxes, and both over the catch-all, so a catch-all never
-- swallows a real user.
function hosting.expand(addr)
  local out = {}
  if expand(addr, 0, out) then
    local seen, uniq = {}, {}
    for _, a in ipairs(out) do
      if not seen[a:lower()] then seen[a:lower()] = true; uniq[#uniq + 1] = a end
    end
    return uniq
  end
end

mta.selftest(function()
  assert(root, "local.mailbox_dirs must name the mail root")
  -- The engine accepts hosted domains from anyone only as relay
  -- domains (moonpost.toml); a relay domain must then be a customer's,
  -- else it would be accepted here and relayed nowhere useful.
  for _, d in ipairs(config.relay_domains) do
    assert(hosting.hosted(d), "relay domain " .. d .. " has no customer in tables/domains")
  end
  assert(hosting.mailbox("alice+x@Shop.Example") == root .. "/shop.example/alice/")
  assert(hosting.expand("nobody@blog.example") == nil)
end)
