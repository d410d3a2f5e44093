package json

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

const maxDepth = 64

// Null is the Lua value json.null decodes to and encodes from.
var Null = &lua.LUserData{Value: "json.null"}

// Loader is the lua.LGFunction for PreloadModule("json", Loader).
func Loader(L *lua.LState) int {
	t := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"encode": luaEncode,
		"decode": luaDecode,
	})
	t.RawSetString("null", Null)
	L.Push(t)
	return 1
}

func luaEncode(L *lua.LState) int {
	var buf bytes.Buffer
	if err := Encode(&buf, L.CheckAny(1), 0); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LString(buf.String()))
	return 1
}

func luaDecode(L *lua.LState) int {
	dec := json.NewDecoder(bytes.NewReader([]byte(L.CheckString(1))))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("json: " + err.Error()))
		return 2
	}
	lv, err := toLua(L, v, 0)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lv)
	return 1
}

var errDepth = errors.New("json: nested too deep (or cyclic)")

// Encode writes v as JSON.
func Encode(buf *bytes.Buffer, v lua.LValue, depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	switch v := v.(type) {
	case *lua.LNilType:
		buf.WriteString("null")
	case lua.LBool:
		buf.WriteString(strconv.FormatBool(bool(v)))
	case lua.LNumber:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return errors.New("json: cannot encode inf or nan")
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case lua.LString:
		b, _ := json.Marshal(string(v))
		buf.Write(b)
	case *lua.LTable:
		return encodeTable(buf, v, depth)
	case *lua.LUserData:
		if v == Null {
			buf.WriteString("null")
			return nil
		}
		return errors.New("json: cannot encode userdata")
	default:
		return fmt.Errorf("json: cannot encode %s", v.Type())
	}
	return nil
}

func encodeTable(buf *bytes.Buffer, t *lua.LTable, depth int) error {
	n := t.Len()
	count := 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	if count == n {
		buf.WriteByte('[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				buf.WriteByte(',')
			}
			if err := Encode(buf, t.RawGetInt(i), depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	return encodeObject(buf, t, depth)
}

func encodeObject(buf *bytes.Buffer, t *lua.LTable, depth int) error {
	keys := map[string]lua.LValue{}
	var bad error
	t.ForEach(func(k, v lua.LValue) {
		switch k.(type) {
		case lua.LString, lua.LNumber:
			keys[k.String()] = v
		default:
			bad = fmt.Errorf("json: cannot encode a %s key", k.Type())
		}
	})
	if bad != nil {
		return bad
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	buf.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, _ := json.Marshal(k)
		buf.Write(b)
		buf.WriteByte(':')
		if err := Encode(buf, keys[k], depth+1); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func toLua(L *lua.LState, v any, depth int) (lua.LValue, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	switch v := v.(type) {
	case nil:
		return Null, nil
	case bool:
		return lua.LBool(v), nil
	case json.Number:
		f, err := v.Float64()
		return lua.LNumber(f), err
	case string:
		return lua.LString(v), nil
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			lv, err := toLua(L, e, depth+1)
			if err != nil {
				return nil, err
			}
			t.Append(lv)
		}
		return t, nil
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			lv, err := toLua(L, e, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	}
	return nil, fmt.Errorf("json: unexpected %T", v)
}
