local lookup = require("lookup")

function Test_file(t)
  local v = lookup.file("testdata/virtual")
  t:eq(v:get("info@example.com"), "alice@example.net")
  t:eq(v:get("SALES@example.COM"), "bob@example.net", "keys are case-insensitive")
  t:eq(v:get("long@example.com"), "first second", "continuation line")
  t:eq(v:get("nobody@example.com"), nil)
end

function Test_aliases(t)
  local a = lookup.aliases("testdata/aliases")
  t:eq(a:get("postmaster")[1], "root")
  local team = a:get("Team")
  t:eq(#team, 3)
  t:eq(team[3], "|/usr/bin/filter -a, -b", "quoted target keeps its comma")
  t:eq(a:get("nobody"), nil)
end

function Test_regexp(t)
  local r = lookup.regexp("testdata/checks")
  t:eq(r:get("Subject: cheap VIAGRA"), "REJECT spam", "case-insensitive by default")
  t:eq(r:get("X-Case: ABC"), "CASE")
  t:eq(r:get("X-Case: abc"), "FOREIGN", "the i flag makes it case-sensitive, so it falls through")
  t:eq(r:get("u@elsewhere.example"), "FOREIGN", "negated rule")
  t:eq(r:get("u+tag@example.com"), "u@example.com", "group substitution")
end

function Test_cidr(t)
  local c = lookup.cidr("testdata/access")
  t:eq(c:get("192.0.2.77"), "REJECT")
  t:eq(c:get("198.51.100.7"), "OK")
  t:eq(c:get("198.51.100.8"), nil)
  t:eq(c:get("2001:db8::1"), "IPV6")
  t:eq(c:get("::ffff:192.0.2.1"), "REJECT", "v4-mapped addresses")
  t:eq(c:get("not an ip"), nil)
end

function Test_paths_are_confined(t)
  t:ok(not pcall(lookup.file, "/etc/passwd"), "absolute path outside")
  t:ok(not pcall(lookup.file, "../../go.mod"), "relative escape")
  t:ok(not pcall(lookup.file, "testdata/missing"), "missing file")
end

function Test_passwd(t)
  local pw = lookup.passwd()
  t:eq(pw:get("root"), "root", "root is in every passwd database")
  t:eq(pw:get("ROOT"), "root", "names are matched case-insensitively")
  t:eq(pw:get("no-such-user-moonpost"), nil)
  for _, hostile in ipairs({"v1%example.net", "example.net!v2", '"v3@example.net"', "root:x", "", "-root", "a/b"}) do
    t:eq(pw:get(hostile), nil, hostile)
  end
end
