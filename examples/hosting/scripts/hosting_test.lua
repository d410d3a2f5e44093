-- Lua tests of the hosting policy, run by hosting_test.go with the mail
-- root /srv/mail.

function Test_rcpt(t)
  local s = {size = 0, recipients = {}}
  t:eq(hooks.call("rcpt", s, "alice@shop.example"), nil)
  t:eq(hooks.call("rcpt", s, "anything@shop.example"), nil, "catch-all")
  local v = hooks.call("rcpt", s, "nobody@blog.example")
  t:eq({v.code, v.enhanced}, {550, "5.1.1"})
  t:eq(hooks.call("rcpt", s, "someone@elsewhere.example"), nil, "relay control is the engine's")
end

function Test_rcpt_size(t)
  t:eq(hooks.call("rcpt", {size = 2048}, "carol@blog.example"), nil, "at the limit")
  local v = hooks.call("rcpt", {size = 2049}, "info@blog.example")
  t:eq({v.code, v.enhanced}, {552, "5.2.3"})
  t:eq(hooks.call("rcpt", {size = 2049}, "alice@shop.example"), nil, "acme's limit is larger")
end

function Test_cleanup_expands_aliases(t)
  local r = hooks.call("cleanup", {sender = "s@remote.example",
    recipients = {"sales@shop.example", "alice@shop.example", "nobody@shop.example", "x@elsewhere.example"},
    headers = {{"Subject", "hi"}}})
  t:eq(r.action, "accept")
  t:eq(r.recipients, {"alice@shop.example", "x@elsewhere.example", "bob@shop.example"})
  -- Extensions keep a mailbox; an alias of an alias is followed; the
  -- catch-all takes only what is neither.
  r = hooks.call("cleanup", {sender = "", recipients = {"Alice+news@Shop.Example", "contact@shop.example", "x+y@shop.example"}})
  t:eq(r.recipients, {"Alice+news@Shop.Example", "alice@shop.example", "bob@shop.example"})
end

function Test_transport(t)
  t:eq(hooks.call("transport", "alice@shop.example", {}), {transport = "local", nexthop = "shop.example",
    options = {mailbox = "/srv/mail/shop.example/alice/", size_limit = 10485760}})
  t:eq(hooks.call("transport", "carol+x@blog.example", {}).options.mailbox, "/srv/mail/blog.example/carol/")
  t:eq(hooks.call("transport", "ghost@blog.example", {}), "error:5.1.1 User unknown in virtual mailbox table")
  t:eq(hooks.call("transport", "postmaster@mx.hosting.test", {}), {transport = "local", nexthop = "mx.hosting.test"})
  t:eq(hooks.call("transport", "x@elsewhere.example", {}), nil)
end

function Test_rcpt_expansion_reaches_cleanup(t)
  local s = {size = 0}
  t:eq(hooks.call("rcpt", s, "Sales@shop.example"), nil)
  t:eq(s.meta["targets:sales@shop.example"], "alice@shop.example,bob@shop.example")
  -- Cleanup takes what the rcpt hook kept rather than expanding again,
  -- and keeps none of it in the queue file.
  local r = hooks.call("cleanup", {sender = "", recipients = {"Sales@shop.example"},
    meta = {["targets:sales@shop.example"] = "bob@shop.example"}})
  t:eq(r.recipients, {"bob@shop.example"})
  t:eq(r.meta, {})
  -- The next transaction starts with none.
  t:eq(hooks.call("mail", s, "x@remote.example"), nil)
  t:eq(s.meta, {})
end
