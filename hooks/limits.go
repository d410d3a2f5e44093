package hooks

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// boundBuiltins replaces the library functions that can build a huge
// string in one Go call, where the deadline cannot interrupt them:
// string.rep, string.format (a field width of 1e9) and table.concat.
// Growth step by step (s = s .. s in a loop, t[#t+1] = x) is stopped by
// the deadline and the heap watchdog instead; see memory.go.
func (e *Engine) boundBuiltins(L *lua.LState) {
	max := e.cfg.MaxString
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
		s := L.CheckString(1)
		n := L.CheckInt(2)
		if n <= 0 || s == "" {
			L.Push(lua.LString(""))
			return 1
		}
		if n > max/len(s) {
			L.RaiseError("string.rep: result longer than %d bytes", max)
		}
		L.Push(lua.LString(strings.Repeat(s, n)))
		return 1
	}))
	origFormat := str.RawGetString("format")
	str.RawSetString("format", L.NewFunction(func(L *lua.LState) int {
		if !formatWidthsOK(L.CheckString(1)) {
			L.RaiseError("string.format: field width or precision over 99")
		}
		return callThrough(L, origFormat)
	}))
	tbl := L.GetGlobal("table").(*lua.LTable)
	origConcat := tbl.RawGetString("concat")
	tbl.RawSetString("concat", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		sep, size := len(L.OptString(2, "")), 0
		t.ForEach(func(_, v lua.LValue) {
			if s, ok := v.(lua.LString); ok {
				size += len(s) + sep
			}
		})
		if size > max {
			L.RaiseError("table.concat: result longer than %d bytes", max)
		}
		return callThrough(L, origConcat)
	}))
}

// callThrough calls fn with this function's arguments and returns all
// of its results.
func callThrough(L *lua.LState, fn lua.LValue) int {
	top := L.GetTop()
	L.Push(fn)
	for i := 1; i <= top; i++ {
		L.Push(L.Get(i))
	}
	L.Call(top, lua.MultRet)
	return L.GetTop() - top
}

// formatWidthsOK enforces Lua 5.1's own limit of two digits for the
// width and precision of a format directive.
func formatWidthsOK(f string) bool {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i, digits = i+1, digits+1
		}
		if i < len(f) && f[i] == '.' {
			i++
			prec := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i, prec = i+1, prec+1
			}
			if prec > 2 {
				return false
			}
		}
		if digits > 2 {
			return false
		}
	}
	return true
}
