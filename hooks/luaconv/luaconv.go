// Package luaconv converts between plain Go values and Lua values, for
// the config module, the engine's generic Call and the REPL.
//
// Only data crosses: nil, booleans, numbers, strings, slices and
// string-keyed maps. Functions and userdata stay on their side; a table
// read back from Lua is a []any when its keys are exactly 1..n and a
// map[string]any otherwise.
package luaconv

import (
	"fmt"
	"reflect"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

const maxDepth = 64

// ToLua converts v. Unsupported types become their fmt string, so a
// config value of an odd type is still visible rather than silently nil.
func ToLua(L *lua.LState, v any) lua.LValue {
	return toLua(L, reflect.ValueOf(v), 0)
}

func toLua(L *lua.LState, rv reflect.Value, depth int) lua.LValue {
	if !rv.IsValid() || depth > maxDepth {
		return lua.LNil
	}
	if lv, ok := rv.Interface().(lua.LValue); ok {
		return lv
	}
	switch rv.Kind() {
	case reflect.Bool:
		return lua.LBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return lua.LNumber(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return lua.LNumber(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return lua.LNumber(rv.Float())
	case reflect.String:
		return lua.LString(rv.String())
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return lua.LNil
		}
		return toLua(L, rv.Elem(), depth)
	case reflect.Slice, reflect.Array:
		t := L.CreateTable(rv.Len(), 0)
		for i := 0; i < rv.Len(); i++ {
			t.Append(toLua(L, rv.Index(i), depth+1))
		}
		return t
	case reflect.Map:
		t := L.CreateTable(0, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			t.RawSetString(fmt.Sprint(iter.Key().Interface()), toLua(L, iter.Value(), depth+1))
		}
		return t
	}
	return lua.LString(fmt.Sprint(rv.Interface()))
}

// FromLua converts a Lua value to Go: nil, bool, float64 (int64 when the
// number is integral), string, []any, map[string]any. Other values
// (functions, userdata) become their string form.
func FromLua(v lua.LValue) any { return fromLua(v, 0) }

func fromLua(v lua.LValue, depth int) any {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		if f := float64(v); f == float64(int64(f)) {
			return int64(f)
		}
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		if depth > maxDepth {
			return "<nested too deep>"
		}
		return tableFromLua(v, depth)
	}
	return v.String()
}

func tableFromLua(t *lua.LTable, depth int) any {
	n, count := t.Len(), 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	if n > 0 && n == count {
		list := make([]any, n)
		for i := range list {
			list[i] = fromLua(t.RawGetInt(i+1), depth+1)
		}
		return list
	}
	m := make(map[string]any, count)
	t.ForEach(func(k, v lua.LValue) { m[k.String()] = fromLua(v, depth+1) })
	return m
}

// ReadOnly wraps t (and, recursively, its table values) in proxies whose
// writes raise an error. Reads go through __index and # through __len;
// Lua 5.1 has no __pairs, so the sandbox's pairs and ipairs look the
// backing table up with Backing.
func ReadOnly(L *lua.LState, t *lua.LTable, what string) *lua.LTable {
	t.ForEach(func(k, v lua.LValue) {
		if sub, ok := v.(*lua.LTable); ok {
			t.RawSet(k, ReadOnly(L, sub, what))
		}
	})
	proxy := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is read-only", what)
		return 0
	}))
	mt.RawSetString("__len", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(t.Len()))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString("read-only"))
	mt.RawSetString(backingKey, t)
	L.SetMetatable(proxy, mt)
	return proxy
}

const backingKey = "__readonly_backing"

// Backing returns the table behind a ReadOnly proxy, or nil.
func Backing(v lua.LValue) *lua.LTable {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil
	}
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return nil
	}
	b, _ := mt.RawGetString(backingKey).(*lua.LTable)
	return b
}

// Keys returns the sorted string keys of m, for stable output.
func Keys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
