package lookup

import (
	lua "github.com/yuin/gopher-lua"
)

const typeName = "lookup.table"

// Loader is the lua.LGFunction for PreloadModule("lookup", r.Loader).
func (r *Registry) Loader(L *lua.LState) int {
	mt := L.NewTypeMetatable(typeName)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"get":   luaGet,
		"error": luaErr,
	}))
	mod := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"file":    r.opener("file"),
		"aliases": r.opener("aliases"),
		"regexp":  r.opener("regexp"),
		"cidr":    r.opener("cidr"),
		"passwd":  r.passwdOpener,
	})
	r.registerRemote(L, mod)
	L.Push(mod)
	return 1
}

// opener raises on a missing, forbidden or broken file: a script that
// names a table it cannot use should fail to load, not run without it.
func (r *Registry) opener(kind string) lua.LGFunction {
	return func(L *lua.LState) int {
		t, err := r.Open(kind, L.CheckString(1))
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		ud := L.NewUserData()
		ud.Value = t
		L.SetMetatable(ud, L.GetTypeMetatable(typeName))
		L.Push(ud)
		return 1
	}
}

// passwdOpener gives lookup.passwd(), the account database.
func (r *Registry) passwdOpener(L *lua.LState) int {
	ud := L.NewUserData()
	ud.Value = r.Passwd()
	L.SetMetatable(ud, L.GetTypeMetatable(typeName))
	L.Push(ud)
	return 1
}

func checkTable(L *lua.LState) *Table {
	t, ok := L.CheckUserData(1).Value.(*Table)
	if !ok {
		L.ArgError(1, "lookup table expected")
	}
	return t
}

func luaGet(L *lua.LState) int {
	t := checkTable(L)
	v, ok := t.Get(L.CheckString(2))
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	switch v := v.(type) {
	case string:
		L.Push(lua.LString(v))
	case []string:
		list := L.CreateTable(len(v), 0)
		for _, s := range v {
			list.Append(lua.LString(s))
		}
		L.Push(list)
	}
	return 1
}

// luaErr reports the last failed reload (the table keeps serving its
// previous contents meanwhile), or nil.
func luaErr(L *lua.LState) int {
	if err := checkTable(L).Err(); err != nil {
		L.Push(lua.LString(err.Error()))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}
