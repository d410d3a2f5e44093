// Package regex is the Lua module "regex": Go (RE2) regular expressions
// for scripts, with a process-wide cache of compiled patterns.
//
// RE2 runs in time linear in the input, so a hostile pattern or subject
// cannot stall a hook the way a backtracking engine can; the price is no
// back-references and no look-around.
//
//	local regex = require("regex")
//	regex.match("^[0-9]+$", "123")             -- true
//	regex.find("(\\w+)@(\\w+)", "a@b")          -- "a@b", {"a", "b"}
//	regex.gsub("\\s+", "a  b", " ")             -- "a b", 1
//	local re = regex.compile("(?i)^spam")      -- re:match(s), re:find(s), re:gsub(s, repl)
package regex
