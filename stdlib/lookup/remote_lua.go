package lookup

import (
	"context"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

const remoteTypeName = "lookup.remote"

// remoteKeys are the option keys each kind accepts; anything else is an
// error, so a misspelt ttl is not silently ignored.
var remoteKeys = map[string]map[string]bool{
	"redis": {"prefix": true, "field": true, "ttl": true, "negative_ttl": true, "max_entries": true},
	"sql":   {"db": true, "query": true, "ttl": true, "negative_ttl": true, "max_entries": true},
}

func (r *Registry) registerRemote(L *lua.LState, mod *lua.LTable) {
	mt := L.NewTypeMetatable(remoteTypeName)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"get":   remoteGet,
		"error": func(L *lua.LState) int { L.Push(lua.LNil); return 1 },
	}))
	for _, kind := range []string{"redis", "sql"} {
		mod.RawSetString(kind, L.NewFunction(r.remoteOpener(kind)))
	}
}

func (r *Registry) remoteOpener(kind string) lua.LGFunction {
	return func(L *lua.LState) int {
		o, err := remoteOptions(kind, L.CheckTable(1))
		if err != nil {
			L.RaiseError("lookup.%s: %s", kind, err.Error())
		}
		t, err := r.OpenRemote(o)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		ud := L.NewUserData()
		ud.Value = t
		L.SetMetatable(ud, L.GetTypeMetatable(remoteTypeName))
		L.Push(ud)
		return 1
	}
}

func remoteOptions(kind string, tbl *lua.LTable) (RemoteOptions, error) {
	o := RemoteOptions{Kind: kind, TTL: time.Minute, NegativeTTL: 10 * time.Second}
	var err error
	tbl.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		name := k.String()
		if !remoteKeys[kind][name] {
			err = fmt.Errorf("unknown option %q", name)
			return
		}
		err = setOption(&o, name, v)
	})
	return o, err
}

func setOption(o *RemoteOptions, name string, v lua.LValue) error {
	switch name {
	case "prefix", "field", "db", "query":
		s, ok := v.(lua.LString)
		if !ok {
			return fmt.Errorf("%s must be a string", name)
		}
		*map[string]*string{"prefix": &o.Prefix, "field": &o.Field, "db": &o.DB, "query": &o.Query}[name] = string(s)
		return nil
	}
	n, ok := v.(lua.LNumber)
	if !ok || n < 0 {
		return fmt.Errorf("%s must be a number of at least 0", name)
	}
	switch name {
	case "ttl":
		o.TTL = time.Duration(float64(n) * float64(time.Second))
	case "negative_ttl":
		o.NegativeTTL = time.Duration(float64(n) * float64(time.Second))
	case "max_entries":
		o.MaxEntries = int(n)
	}
	return nil
}

func remoteGet(L *lua.LState) int {
	t, ok := L.CheckUserData(1).Value.(*Remote)
	if !ok {
		L.ArgError(1, "lookup table expected")
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	v, found, err := t.Get(ctx, L.CheckString(2))
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if !found {
		L.Push(lua.LNil)
		return 1
	}
	switch v := v.(type) {
	case Row:
		L.Push(stdsql.RowTable(L, v.Columns, v.Values))
	case string:
		L.Push(lua.LString(v))
	default:
		L.Push(stdsql.ToLua(v))
	}
	return 1
}
