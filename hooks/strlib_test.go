package hooks

import (
	"fmt"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
)

// libCases are expressions whose values must be the same with the
// engine's bounded library as with gopher-lua's own (Lua 5.1 semantics).
var libCases = []string{
	`string.find("hello world", "o w")`,
	`string.find("hello world", "o", 6)`,
	`string.find("hello world", "l", -3)`,
	`string.find("hello", "xyz")`,
	`string.find("a.b", ".", 1, true)`,
	`string.find("a+b", "+", 1, true)`,
	`string.find("hello", "(h)(e)")`,
	`string.find("hello", "()ll()")`,
	`string.find("  x", "^%s*")`,
	`string.find("abc", "b", 10)`,
	`string.match("key = value", "(%w+)%s*=%s*(%w+)")`,
	`string.match("2024-01-15", "(%d+)-(%d+)-(%d+)")`,
	`string.match("user@example.com", "^([^@]+)@(.+)$")`,
	`string.match("THE (quick) fox", "%((%a+)%)")`,
	`string.match("f(a(b)c)d", "%b()")`,
	`string.match("hello", ".-l")`,
	`string.match("hello", ".*l")`,
	`string.match("hello", "l+")`,
	`string.match("hello", "x?h")`,
	`string.match("abcabc", "(abc)%1")`,
	`string.match("[x]", "[]x[]+")`,
	`string.match("a-b", "[a%-]+")`,
	`string.match("a^b", "[%^b]+", 2)`,
	`string.match("xyz", "[^x]+")`,
	`string.match("Hello World", "%u%l+$")`,
	`string.match("tab\there", "%c")`,
	`string.match("0x1F", "%x+$")`,
	`string.match("a1_b2", "[%w_]+")`,
	`string.match("a,b;c", "%p")`,
	`string.match("", ".*")`,
	`string.match("abc", "()")`,
	`string.match("abc", "$")`,
	`string.match("a$b", "a$b")`,
	`string.match("hello", "^(h?)e")`,
	`string.match("x", "[a-z]")`,
	`string.match("end.", "%.$")`,
	`string.gsub("hello world", "o", "0")`,
	`string.gsub("hello world", "(o)", "[%1]")`,
	`string.gsub("hello world", "%w+", "%0 %0", 1)`,
	`string.gsub("hello", "", "-")`,
	`string.gsub("abc", "%w", "%%")`,
	`string.gsub("abc", "^a", "A")`,
	`string.gsub("$name and $x", "%$(%w+)", {name = "Lua"})`,
	`string.gsub("a b c", "%a", function(c) if c ~= "b" then return c:upper() end end)`,
	`string.gsub("a b", "(%a)", function(c) return false end)`,
	`string.gsub("abc", ".", {a = 1, b = true and "B"})`,
	`string.gsub("one two", "(%w+) (%w+)", "%2 %1")`,
	`string.gsub("x = 1, y = 2", "(%w+) = (%w+)", "%2=%1")`,
	`string.gsub("abc", "b*", "-")`,
	`(function() local t = {} for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do t[#t+1] = k .. v end return table.concat(t, ";") end)()`,
	`(function() local t = {} for w in string.gmatch("one two  three", "%a+") do t[#t+1] = w end return table.concat(t, ",") end)()`,
	`(function() local t = {} for w in string.gmatch("abc", "") do t[#t+1] = "." end return #t end)()`,
	`(function() local t = {} for p in string.gmatch("abc", "()b") do t[#t+1] = p end return t[1] end)()`,
	`("x"):rep(3) .. 1 .. 2.5 .. "y"`,
	`"a" .. (function() return "b", "c" end)() .. "d"`,
	`(function(...) return "a" .. ... end)("b", "c")`,
	`setmetatable({}, {__concat = function(a, b) return "meta" end}) .. "x"`,
	`"x" .. setmetatable({}, {__concat = function(a, b) return type(a) .. type(b) end})`,
	`"a" .. "b" .. setmetatable({}, {__concat = function(a, b) return a .. "!" end}) .. "c"`,
	`table.concat({1, 2, "three"}, ", ")`,
	`table.concat({"a", "b", "c"}, "-", 2, 3)`,
	`table.concat({}, "x")`,
	`(function() local t = {5, 2, 8, 1} table.sort(t) return table.concat(t, " ") end)()`,
	`(function() local t = {"b", "c", "a"} table.sort(t, function(a, b) return a > b end) return table.concat(t) end)()`,
	`string.format("%5.2f|%s|%d", 3.14159, "x", 42)`,
}

// TestLibraryAgreesWithGopherLua runs each case in an engine state and in
// a plain gopher-lua state and compares the results.
func TestLibraryAgreesWithGopherLua(t *testing.T) {
	e := newEngine(t, map[string]string{"10-empty.lua": ""})
	for _, c := range libCases {
		ours := evalAll(t, e.NewState(), c, true)
		plain := lua.NewState()
		theirs := evalAll(t, plain, c, false)
		plain.Close()
		if ours != theirs {
			t.Errorf("%s\n  engine:     %s\n  gopher-lua: %s", c, ours, theirs)
		}
	}
}

// evalAll returns the values of expr, or its error, as text.
func evalAll(t *testing.T, L *lua.LState, expr string, guarded bool) string {
	t.Helper()
	src := "return " + expr
	var err error
	if guarded {
		var proto *lua.FunctionProto
		if proto, err = Compile(strings.NewReader(src), "case"); err == nil {
			L.Push(L.NewFunctionFromProto(proto))
			err = L.PCall(0, lua.MultRet, nil)
		}
	} else {
		err = L.DoString(src)
	}
	if err != nil {
		return "error"
	}
	var out []string
	for i := 1; i <= L.GetTop(); i++ {
		v := L.Get(i)
		out = append(out, fmt.Sprintf("%s:%s", v.Type(), v.String()))
	}
	L.SetTop(0)
	return strings.Join(out, " ")
}

// TestFrontier pins %f, where gopher-lua's own matcher disagrees with
// Lua 5.1 (it finds only the last frontier); the wanted values are the
// reference interpreter's.
func TestFrontier(t *testing.T) {
	e := newEngine(t, map[string]string{"10-empty.lua": ""})
	for expr, want := range map[string]string{
		`string.match("THE (quick) fox", "%f[%a]%a+", 5)`:    "string:quick",
		`string.match("THE (quick) fox", "%f[%a]%a+")`:       "string:THE",
		`string.gsub("THE (quick) fox", "%f[%a]%a+", "W")`:   "string:W (W) W number:3",
		`string.find("hello world", "%f[%w]%w+$")`:           "number:7 number:11",
		`string.gsub("the the end", "%f[%w](%w+) %1", "%1")`: "string:the end number:1",
	} {
		if got := evalAll(t, e.NewState(), expr, true); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}

// TestPatternErrors checks that malformed patterns raise rather than
// match something.
func TestPatternErrors(t *testing.T) {
	e := newEngine(t, map[string]string{"10-empty.lua": ""})
	L := e.NewState()
	for _, pat := range []string{"%", "[a", "(a", "a)", "%b", "%f", "%1", "[%", "(()"} {
		if err := L.DoString(fmt.Sprintf("return string.match('abc', %q)", pat)); err == nil {
			t.Errorf("pattern %q: no error", pat)
		}
		L.SetTop(0)
	}
}

// TestConcatErrorPosition: a bad operand of the rewritten .. operator is
// reported at the script's line, in gopher-lua's words.
func TestConcatErrorPosition(t *testing.T) {
	e := newEngine(t, map[string]string{"10-x.lua": `
mta.on("rcpt", function(s, to)
  local x
  return mta.reject(550, "5.1.1", "a" ..
     x)
end)`})
	_, err := e.Rcpt(ctx(t), &policy.Session{}, "a")
	wantErrContains(t, err, "10-x.lua:4: cannot perform concat operation between string and nil")
}
