package luatest

import (
	"fmt"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

const tType = "luatest.t"

// newT wraps t for Lua. Checks record a failure and go on, like
// t.Errorf; t:fatal stops the test function.
func newT(L *lua.LState, t *testing.T) *lua.LUserData {
	mt := L.NewTypeMetatable(tType)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"eq":    tEq,
		"ok":    tOk,
		"fail":  tFail,
		"fatal": tFatal,
		"log":   tLog,
	}))
	ud := L.NewUserData()
	ud.Value = t
	L.SetMetatable(ud, mt)
	return ud
}

func checkT(L *lua.LState) *testing.T {
	t, ok := L.CheckUserData(1).Value.(*testing.T)
	if !ok {
		L.ArgError(1, "t expected")
	}
	return t
}

// where is the Lua position of the check, "file.lua:12".
func where(L *lua.LState) string {
	return strings.TrimSuffix(L.Where(1), ":")
}

func msg(L *lua.LState, n int) string {
	if s := L.OptString(n, ""); s != "" {
		return ": " + s
	}
	return ""
}

func tEq(L *lua.LState) int {
	t := checkT(L)
	got, want := L.Get(2), L.Get(3)
	if !Equal(got, want) {
		t.Errorf("%s: got %s, want %s%s", where(L), show(got), show(want), msg(L, 4))
	}
	return 0
}

func tOk(L *lua.LState) int {
	t := checkT(L)
	if !lua.LVAsBool(L.Get(2)) {
		t.Errorf("%s: check failed%s", where(L), msg(L, 3))
	}
	return 0
}

func tFail(L *lua.LState) int {
	checkT(L).Errorf("%s: failed%s", where(L), msg(L, 2))
	return 0
}

func tFatal(L *lua.LState) int {
	t := checkT(L)
	t.Errorf("%s: fatal%s", where(L), msg(L, 2))
	L.RaiseError("test stopped")
	return 0
}

func tLog(L *lua.LState) int {
	checkT(L).Logf("%s: %s", where(L), L.CheckString(2))
	return 0
}

// Equal compares Lua values, tables by content.
func Equal(a, b lua.LValue) bool { return equal(a, b, 0) }

func equal(a, b lua.LValue, depth int) bool {
	ta, okA := a.(*lua.LTable)
	tb, okB := b.(*lua.LTable)
	if !okA || !okB || depth > 32 {
		return a == b
	}
	if ta == tb {
		return true
	}
	same := true
	n := 0
	ta.ForEach(func(k, v lua.LValue) {
		n++
		if same && !equal(v, tb.RawGet(k), depth+1) {
			same = false
		}
	})
	tb.ForEach(func(lua.LValue, lua.LValue) { n-- })
	return same && n == 0
}

func show(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return fmt.Sprintf("%q", string(v))
	case *lua.LTable:
		var parts []string
		v.ForEach(func(k, e lua.LValue) { parts = append(parts, fmt.Sprintf("[%s]=%s", show(k), show(e))) })
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.String()
}
