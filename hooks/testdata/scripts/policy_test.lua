local dns = require("dns")
local config = require("config")
local log = require("log")

function Test_rewrite_through_live_handlers(t)
  t:eq(hooks.call("rewrite", "u@host.example.org", {role = "sender"}), "u@example.org")
  t:eq(hooks.call("rewrite", "u@host.example.org", {role = "recipient"}), nil)
end

function Test_rcpt_verdict(t)
  local v = hooks.call("rcpt", {}, "nobody@example.org")
  t:eq(v.action, "reject")
  t:eq(v.code, 550)
  t:eq(v.enhanced, "5.1.1")
  t:eq(hooks.call("rcpt", {}, "someone@example.org"), nil)
end

function Test_cleanup(t)
  local r = hooks.call("cleanup", {sender = "s@x", recipients = {"a@x"}, headers = {{"Subject", "hold me"}}})
  t:eq(r.action, "hold")
  t:eq(r.reason, "asked for it")
  t:eq(r.headers[1], {"X-Policy", "seen"}, "add_header prepends")
  t:eq(r.recipients, {"a@x"})
end

function Test_transport(t)
  t:eq(hooks.call("transport", "u@lmtp.example", {}), "lmtp:unix:/run/lmtp")
end

function Test_generation(t)
  t:eq(hooks.generation(), 1)
  t:eq(#hooks.errors(), 0)
end

function Test_config_read_only(t)
  t:eq(config.mydomain, "example.org")
  t:eq(config.mydestination[2], "localhost")
  local n = 0
  for _, d in ipairs(config.mydestination) do n = n + 1 end
  t:eq(n, 2, "ipairs sees through the read-only proxy")
  t:ok(not pcall(function() config.mydomain = "evil" end), "write refused")
  t:ok(not pcall(function() config.mydestination[1] = "evil" end), "nested write refused")
end

function Test_dns(t)
  local mx = dns.mx("example.org")
  t:eq(mx[1].host, "mx.example.org")
  t:eq(mx[1].pref, 10)
  t:eq(dns.a("mx.example.org"), {"192.0.2.25"})
  t:eq(dns.txt("example.org"), {"v=spf1 -all"})
  t:eq(dns.mx("nxdomain.example"), {}, "a name that does not exist is an empty list")
  local r, err = dns.mx("servfail.example")
  t:eq(r, nil)
  t:ok(err:find("SERVFAIL") ~= nil, err)
end

function Test_log_and_print(t)
  log.info("hello", {k = "v"})
  print("printed", 1)
end

function Test_mta_on_refused_here(t)
  t:ok(not pcall(mta.on, "rcpt", function() end))
  t:eq(tostring(mta.defer()), "reject 451 4.7.1 Try again later")
end
