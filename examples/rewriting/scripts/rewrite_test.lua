-- Lua tests of the rewriting policy, run by rewriting_test.go.
function Test_bare_names(t)
  t:eq(hooks.call("rewrite", "carol", {role = "sender", where = "envelope"}), "carol@example.test")
end

function Test_canonical(t)
  t:eq(hooks.call("rewrite", "sales@old-name.example", {role = "recipient", where = "header", header = "To"}), "bob@example.test")
end

function Test_masquerading(t)
  t:eq(hooks.call("rewrite", "root@web1.host.example.test", {role = "sender", where = "header", header = "From"}), "root@example.test")
  t:eq(hooks.call("rewrite", "root@web1.example.test", {role = "recipient", where = "envelope"}), nil)
end
