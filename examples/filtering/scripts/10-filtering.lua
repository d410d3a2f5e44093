-- Inbound filtering: DNSBL at connect, greylisting at RCPT, and the
-- rspamd milter's verdict judged per customer.
local dnsbl = require("dnsbl")
local greylist = require("greylist")
local lookup = require("lookup")

local thresholds = lookup.file("spam_thresholds")
local grey = greylist.new({delay = 300, auto_allow = 5})
local sites = {
  "bl.example.test=127.0.0.[2..11]*3",  -- a blocklist: weight 3
  "wl.example.test=127.0.[0..255].[1..3]*-3", -- an allowlist cancels it
}

mta.on("connect", function(s)
  if s.trusted or s.client.addr == "" then return nil end
  local r = dnsbl.check(s.client.addr, sites)
  if r and r.score >= 3 then
    return mta.reject(554, "5.7.1", "Service unavailable; client host [" .. s.client.addr .. "] blocked using DNSBL")
  end
end)

mta.on("rcpt", function(s, to) return grey:check(s, to) end)

-- policy is the customer's line in spam_thresholds: address, then domain.
local function policy(rcpt)
  return thresholds:get(rcpt) or thresholds:get(rcpt:match("@(.+)$") or "") or "15"
end

mta.on("milter", function(result, msg)
  if result.milter ~= "rspamd" or result.failed then return nil end
  local p = policy(msg:recipients()[1] or "")
  if result.action == "reject" then
    if p == "tag" then
      result.add_header("X-Spam", "Yes")
      return mta.accept()
    end
    return nil
  end
  local limit = tonumber(p)
  if result.score and limit and result.score >= limit then
    return mta.hold(string.format("spam score %.1f >= %d", result.score, limit))
  end
end)

-- Our own domain is delivered here.
mta.on("transport", function(rcpt)
  local d = (rcpt:match("@(.+)$") or ""):lower()
  if d == "" or d == "example.test" then return {transport = "local", nexthop = d} end
end)
