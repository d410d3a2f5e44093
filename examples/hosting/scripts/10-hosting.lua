-- The hosting policy: the tables and what they mean, then the rcpt,
-- cleanup and transport hooks. It is one file so the helpers stay local
-- (no global shared between files, nothing that depends on file order);
-- what a hook decides for a later one travels as metadata: the rcpt hook
-- keeps each recipient's expansion with the connection (s:set_meta) and
-- cleanup uses it instead of expanding again.
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

local hosting = {}

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

-- The rcpt hook keeps the expansion of each accepted recipient under
-- this key prefix; cleanup reads it and drops it from the message.
local targets_key = "targets:"

-- remember keeps rcpt's expansion with the connection for cleanup. A
-- connection past the metadata bound just does not keep it: cleanup
-- then expands again.
local function remember(s, rcpt, targets)
  pcall(s.set_meta, s, targets_key .. rcpt:lower(), table.concat(targets, ","))
end

-- SMTP-time policy for hosted domains: refuse what would bounce later,
-- while the client is still connected, so no bounce ever goes to a
-- forged sender. Relay control (non-hosted domains) is the engine's.
mta.on("mail", function(s, from)
  -- A new transaction: forget the last one's expansions.
  for k in pairs(s:meta()) do
    if k:sub(1, #targets_key) == targets_key then s:set_meta(k, nil) end
  end
end)

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
  remember(s, rcpt, targets)
end)

-- Virtual alias expansion, in cleanup as Postfix does it: the queued
-- message carries the final mailbox addresses, so the transport hook
-- and the queue see one recipient per mailbox (each with its own
-- options), and an alias naming two mailboxes stores the message once.
-- The expansion is the rcpt hook's when it kept one; mail that did not
-- come through the rcpt check (sendmail's) is expanded here. Unknown
-- addresses are left alone; the transport hook refuses them.
local function targets_of(msg, rcpt)
  local kept = msg:meta(targets_key .. rcpt:lower())
  if kept then
    msg:set_meta(targets_key .. rcpt:lower(), nil) -- not worth a place in the queue file
    local out = {}
    for t in kept:gmatch("[^,]+") do out[#out + 1] = t end
    return out
  end
  return hosting.hosted(hosting.domain(rcpt)) and hosting.expand(rcpt)
end

mta.on("cleanup", function(msg)
  for _, rcpt in ipairs(msg:recipients()) do
    local targets = targets_of(msg, rcpt)
    if targets and not (#targets == 1 and targets[1] == rcpt) then
      msg:remove_recipient(rcpt)
      for _, t in ipairs(targets) do msg:add_recipient(t) end
    end
  end
end)

-- Transport: hosted mailboxes go to the local agent with their Maildir
-- and the customer's size limit as options; the server's own names go
-- to the local mailboxes of moonpost.toml; the rest to the MX (nil).
mta.on("transport", function(rcpt)
  local domain = hosting.domain(rcpt)
  if hosting.hosted(domain) then
    local box = hosting.mailbox(rcpt)
    if not box then return "error:5.1.1 User unknown in virtual mailbox table" end
    return {transport = "local", nexthop = domain,
            options = {mailbox = box, size_limit = hosting.size_limit(domain)}}
  end
  if mta.domain_class(domain) == "local" then
    return {transport = "local", nexthop = domain}
  end
end)

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
