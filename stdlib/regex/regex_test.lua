local regex = require("regex")

function Test_match(t)
  t:ok(regex.match("^[0-9]+$", "123"))
  t:ok(not regex.match("^[0-9]+$", "12a"))
  t:ok(regex.match("(?i)^SPAM", "spam offer"), "inline flags")
end

function Test_find(t)
  local whole, groups = regex.find("(\\w+)@([\\w.]+)", "mail a@b.example now")
  t:eq(whole, "a@b.example")
  t:eq(groups[1], "a")
  t:eq(groups[2], "b.example")
  t:eq(regex.find("x", "abc"), nil)
end

function Test_gsub(t)
  local s, n = regex.gsub("\\s+", "a  b   c", " ")
  t:eq(s, "a b c")
  t:eq(n, 2)
  t:eq(regex.replace("(\\w+)@(\\w+)", "u@d", "$2!$1"), "d!u")
end

function Test_compile(t)
  local re = regex.compile("^(.*)\\+.*@(.*)$")
  t:ok(re:match("u+x@d"))
  t:eq(re:gsub("u+x@d", "$1@$2"), "u@d")
  local bad, err = regex.compile("(")
  t:eq(bad, nil)
  t:ok(err ~= nil)
end

function Test_bad_pattern_raises(t)
  local ok = pcall(regex.match, "(", "x")
  t:ok(not ok)
end

function Test_gsub_bounded(t)
  -- lua_test.go lowers the bounds to 4096 matches and 1 MiB of result
  local s = string.rep("x", 4000)
  local ok, err = pcall(regex.gsub, ".", s, s)
  t:ok(not ok and err:find("result longer") ~= nil, tostring(err))
  ok, err = pcall(regex.gsub, "", string.rep("x", 70000), "")
  t:ok(not ok and err:find("more than") ~= nil, tostring(err))
  t:eq(regex.gsub("(a)(b)?", "ab a", "[$1$2]"), "[ab] [a]")
end
