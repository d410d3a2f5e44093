-- Outbound policy of a hosting provider's node. The sender's domain
-- names the tenant (SQLite: domains); the tenant's sending limit is an
-- override in Redis (limit:TENANT, written by provisioning) or else its
-- plan's rate (SQLite: tenants, plans). throttle.check counts every
-- node's mail into one limit in Redis. The lookups are cached in the
-- process, so a warm message costs microseconds, not queries. The mail
-- is put in its tenant, so each node shares a destination fairly
-- between tenants.
local lookup = require("lookup")
local throttle = require("throttle")

local tenant_of = lookup.sql{db = "tenants", ttl = 30, negative_ttl = 10,
  query = "SELECT tenant FROM domains WHERE domain = $1"}
local plan_rate = lookup.sql{db = "tenants", ttl = 30, negative_ttl = 10,
  query = "SELECT p.rate FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.name = $1"}
local override = lookup.redis{prefix = "limit:", ttl = 5, negative_ttl = 5}

-- A tenant with neither gets this.
local default_rate = "100/h"

mta.on("mail", function(s, from)
  local domain = (from:match("@([^@]+)$") or ""):lower()
  if domain == "" then return nil end -- bounces have no tenant
  local tenant = tenant_of:get(domain)
  if not tenant then
    return mta.reject(553, "5.7.1", "<" .. from .. ">: Sender address rejected: domain not hosted here")
  end
  local rate = override:get(tenant) or plan_rate:get(tenant) or default_rate
  local ok, retry_after = throttle.check("tenant:" .. tenant, rate)
  if not ok then
    return mta.defer(450, "4.7.1", "Sending limit of " .. rate .. " reached, retry in " .. math.ceil(retry_after) .. "s")
  end
  -- The connection's mail is the tenant's: scheduled fairly against the
  -- other tenants' and logged as tenant=NAME.
  s:set_tenant(tenant)
end)
