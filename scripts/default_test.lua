-- Tests of the default policy, run by scripts_test.go with
-- myorigin = "example.org", mydestination = {"example.org", "localhost"}
-- and the aliases file testdata/aliases.

function Test_bare_names_get_myorigin(t)
  t:eq(hooks.call("rewrite", "alice", {role = "sender", where = "envelope"}), "alice@example.org")
  t:eq(hooks.call("rewrite", "bob", {role = "recipient", where = "header", header = "To"}), "bob@example.org")
end

function Test_full_addresses_are_kept(t)
  t:eq(hooks.call("rewrite", "alice@elsewhere.example", {role = "sender", where = "envelope"}), nil)
  t:eq(hooks.call("rewrite", "", {role = "sender", where = "envelope"}), nil, "null sender")
end

function Test_aliases_from_the_file(t)
  t:eq(hooks.call("alias", "postmaster", "example.org"), {"root"})
  t:eq(hooks.call("alias", "Team", "example.org"), {"alice", "bob@elsewhere.example", "|/usr/bin/true"})
  t:eq(hooks.call("alias", "nobody-here", "example.org"), nil, "no alias: the mailbox")
end

function Test_local_domains_go_local(t)
  t:eq(hooks.call("transport", "alice@example.org", {}), {transport = "local", nexthop = "example.org"})
  t:eq(hooks.call("transport", "alice@LOCALHOST.", {}), {transport = "local", nexthop = "localhost"})
  t:eq(hooks.call("transport", "alice", {}), {transport = "local", nexthop = ""})
end

function Test_other_domains_go_to_their_mx(t)
  t:eq(hooks.call("transport", "bob@Remote.Example", {}), {transport = "smtp", nexthop = "remote.example"})
end

function Test_smtp_phases_have_no_opinion(t)
  t:eq(hooks.call("rcpt", {client_addr = "192.0.2.1"}, "anyone@example.org"), nil)
  t:eq(hooks.call("auth", "alice", "secret"), nil, "the password file decides")
end

function Test_cleanup_leaves_messages_alone(t)
  local r = hooks.call("cleanup", {sender = "s@x", recipients = {"a@x"}, headers = {{"Subject", "hi"}}})
  t:eq(r.action, "accept")
  t:eq(r.headers, {{"Subject", "hi"}})
end
