package kv

import (
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Loader is the lua.LGFunction for PreloadModule("kv", s.Loader).
func (s *Store) Loader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"get":    s.luaGet,
		"set":    s.luaSet,
		"delete": s.luaDelete,
		"incr":   s.luaIncr,
	}))
	return 1
}

func (s *Store) luaGet(L *lua.LState) int {
	L.Push(s.Get(L.CheckString(1)))
	return 1
}

func (s *Store) luaSet(L *lua.LState) int {
	k := L.CheckString(1)
	v := L.Get(2)
	switch v.(type) {
	case lua.LString, lua.LNumber, lua.LBool, *lua.LNilType:
	default:
		L.ArgError(2, "kv values are strings, numbers or booleans")
	}
	if err := s.Set(k, v, ttlArg(L, 3)); err != nil {
		L.RaiseError("%s", err.Error())
	}
	return 0
}

func (s *Store) luaDelete(L *lua.LState) int {
	_ = s.Set(L.CheckString(1), lua.LNil, 0)
	return 0
}

func (s *Store) luaIncr(L *lua.LState) int {
	n, err := s.Incr(L.CheckString(1), float64(L.OptNumber(2, 1)), ttlArg(L, 3))
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(lua.LNumber(n))
	return 1
}

func ttlArg(L *lua.LState, n int) time.Duration {
	sec := float64(L.OptNumber(n, 0))
	if sec < 0 {
		L.ArgError(n, "ttl must not be negative")
	}
	return time.Duration(sec * float64(time.Second))
}
