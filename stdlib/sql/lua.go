package sql

import (
	"context"
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// Loader returns the lua.LGFunction for PreloadModule("sql", ...); nil
// dbs means none are configured.
func Loader(dbs *DBs) lua.LGFunction {
	return func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"query":     func(L *lua.LState) int { return query(L, dbs, false) },
			"query_row": func(L *lua.LState) int { return query(L, dbs, true) },
			"exec":      func(L *lua.LState) int { return exec(L, dbs) },
		}))
		return 1
	}
}

// prepare reads (name, query, args...) and finds the database.
func prepare(L *lua.LState, dbs *DBs) (context.Context, *DB, string, []any) {
	db, err := dbs.Get(L.CheckString(1))
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	q := L.CheckString(2)
	args := make([]any, 0, L.GetTop()-2)
	for i := 3; i <= L.GetTop(); i++ {
		a, err := FromLua(L.Get(i))
		if err != nil {
			L.ArgError(i, err.Error())
		}
		args = append(args, a)
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return ctx, db, q, args
}

// FromLua converts a placeholder value.
func FromLua(v lua.LValue) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		if f := float64(v); f == float64(int64(f)) {
			return int64(f), nil
		}
		return float64(v), nil
	}
	return nil, fmt.Errorf("a %s cannot be a query value", v.Type())
}

func query(L *lua.LState, dbs *DBs, one bool) int {
	ctx, db, q, args := prepare(L, dbs)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if one {
		if len(rows.Values) == 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(RowTable(L, rows.Columns, rows.Values[0]))
		return 1
	}
	list := L.CreateTable(len(rows.Values), 0)
	for _, r := range rows.Values {
		list.Append(RowTable(L, rows.Columns, r))
	}
	L.Push(list)
	return 1
}

// RowTable is one row keyed by column name; NULLs are left out.
func RowTable(L *lua.LState, cols []string, vals []any) *lua.LTable {
	t := L.CreateTable(0, len(cols))
	for i, c := range cols {
		if v := ToLua(vals[i]); v != lua.LNil {
			t.RawSetString(c, v)
		}
	}
	return t
}

// ToLua converts a value of Rows.
func ToLua(v any) lua.LValue {
	switch v := v.(type) {
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	}
	return lua.LNil
}

func exec(L *lua.LState, dbs *DBs) int {
	ctx, db, q, args := prepare(L, dbs)
	n, err := db.Exec(ctx, q, args...)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(lua.LNumber(n))
	return 1
}
