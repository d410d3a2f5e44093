-- Tests of the default policy, run by scripts_test.go with
-- myorigin = "example.org", mydestination = {"example.org", "localhost"},
-- the aliases file testdata/aliases and local_recipient_maps =
-- {"passwd", "aliases", testdata/users}.

function Test_rewriting_is_left_to_the_engine(t)
  -- myorigin for bare names is the engine's Go default (cleanup's
  -- AppendOrigin, before any script), as Postfix's append_at_myorigin.
  t:eq(hooks.call("rewrite", "alice", {role = "sender", where = "envelope"}), nil)
  t:eq(hooks.call("rewrite", "alice@elsewhere.example", {role = "sender", where = "envelope"}), nil)
end

function Test_aliases_from_the_file(t)
  t:eq(hooks.call("alias", "postmaster", "example.org"), {"root"})
  t:eq(hooks.call("alias", "Team", "example.org"), {"alice", "bob@elsewhere.example", "|/usr/bin/true"})
  t:eq(hooks.call("alias", "nobody-here", "example.org"), nil, "no alias: the mailbox")
end

function Test_transport_is_left_to_the_engine(t)
  -- mydestination, relayhost and MX delivery are the engine's Go default
  -- (resolve.Static), which applies when no transport handler decides.
  t:eq(hooks.call("transport", "alice@example.org", {}), nil)
  t:eq(hooks.call("transport", "bob@remote.example", {}), nil)
end

function Test_smtp_phases_have_no_opinion(t)
  t:eq(hooks.call("rcpt", {client = {addr = "192.0.2.1"}}, "anyone@remote.example"), nil, "relay control is the engine's")
  t:eq(hooks.call("auth", "alice", "secret"), nil, "the password file decides")
end

local function rejected(t, rcpt)
  local v = hooks.call("rcpt", {client = {addr = "192.0.2.1"}}, rcpt)
  t:ok(v ~= nil and v.action == "reject" and v.code == 550 and v.enhanced == "5.1.1", rcpt .. " is refused")
  if v then t:eq(v.text, "<" .. rcpt .. ">: Recipient address rejected: User unknown in local recipient table") end
end

function Test_unknown_local_users_are_refused(t)
  for _, rcpt in ipairs({"v1%example.net@example.org", "example.net!v2@example.org", '"v3@example.net"@example.org',
      "nobody-here@example.org", "nobody-here@LOCALHOST.", '"alice@example.org"@example.org', '"carol"@localhost'}) do
    rejected(t, rcpt)
  end
end

function Test_known_local_users_pass(t)
  local s = {client = {addr = "192.0.2.1"}}
  t:eq(hooks.call("rcpt", s, "alice@example.org"), nil, "listed in the users table")
  t:eq(hooks.call("rcpt", s, "Alice+Tag@localhost"), nil, "case and extension")
  t:eq(hooks.call("rcpt", s, "carol@example.org"), nil, "a full-address key")
  t:eq(hooks.call("rcpt", s, "root@example.org"), nil, "an account in passwd")
  t:eq(hooks.call("rcpt", s, "PostMaster@example.org"), nil, "postmaster is always known")
  t:eq(hooks.call("rcpt", s, "team+x@localhost"), nil, "an alias")
  t:eq(hooks.call("rcpt", s, "postmaster"), nil, "bare postmaster")
end

function Test_full_address_keys_match_their_domain_only(t)
  rejected(t, "carol@localhost")
end

function Test_cleanup_leaves_messages_alone(t)
  local r = hooks.call("cleanup", {sender = "s@x", recipients = {"a@x"}, headers = {{"Subject", "hi"}}})
  t:eq(r.action, "accept")
  t:eq(r.headers, {{"Subject", "hi"}})
end
