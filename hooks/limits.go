package hooks

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// boundBuiltins replaces the library functions that could build a huge
// string or run for long in one Go call, where the VM's check of the
// deadline between instructions never comes: string.rep, string.format
// (a field width of 1e9, or many large %s), table.concat and table.sort
// here, the pattern functions in strlib.go, the concatenation operator
// in concat.go. Each checks its result against Config.MaxString before
// it allocates, and the long-running ones poll the state's context.
// Growth step by step (t[#t+1] = x in a loop) is stopped by the
// deadline and the memory watch instead; see memory.go.
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
		f := L.CheckString(1)
		if !formatWidthsOK(f) {
			L.RaiseError("string.format: field width or precision over 99")
		}
		// Each directive adds at most its argument's text or, for a
		// number, a hundred bytes (two-digit widths).
		size := len(f)
		for i := 2; i <= L.GetTop(); i++ {
			size += 100
			if s, ok := L.Get(i).(lua.LString); ok {
				size += len(s)
			}
		}
		if size > max {
			L.RaiseError("string.format: result longer than %d bytes", max)
		}
		return callThrough(L, origFormat)
	}))
	e.installPatterns(L, str)
	tbl := L.GetGlobal("table").(*lua.LTable)
	tbl.RawSetString("concat", L.NewFunction(func(L *lua.LState) int { return tableConcat(L, max) }))
	tbl.RawSetString("sort", L.NewFunction(tableSort))
	e.installConcat(L)
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
