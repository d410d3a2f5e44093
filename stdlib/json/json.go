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
	enc := &encoder{buf: &buf}
	if ctx := L.Context(); ctx != nil {
		enc.done, enc.ctxErr = ctx.Done(), ctx.Err
	}
	if err := enc.encode(L.CheckAny(1), 0); err != nil {
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

// MaxOutput bounds what Encode writes (the engine's default max_string).
// Depth alone does not bound it: a table that holds the same subtable
// twice, nested 60 deep, encodes to 2^60 values. Every value writes at
// least one byte, so this bounds the time spent too. A variable only so
// that tests can reach the bound quickly.
var MaxOutput = 16 << 20

// Encode writes v as JSON.
func Encode(buf *bytes.Buffer, v lua.LValue, depth int) error {
	return (&encoder{buf: buf}).encode(v, depth)
}

// encoder is one Encode, with the calling state's context: encoding
// runs in one Go call, so it looks at the context itself, every
// pollEvery values.
type encoder struct {
	buf    *bytes.Buffer
	done   <-chan struct{} // nil: never stops
	ctxErr func() error
	n      int
}

const pollEvery = 1024

func (e *encoder) encode(v lua.LValue, depth int) error {
	buf := e.buf
	if depth > maxDepth {
		return errDepth
	}
	if buf.Len() > MaxOutput {
		return fmt.Errorf("json: encoding longer than %d bytes", MaxOutput)
	}
	if e.n++; e.done != nil && e.n%pollEvery == 0 {
		select {
		case <-e.done:
			return e.ctxErr()
		default:
		}
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
		return e.encodeTable(v, depth)
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

func (e *encoder) encodeTable(t *lua.LTable, depth int) error {
	buf := e.buf
	n := t.Len()
	count := 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	if count == n {
		buf.WriteByte('[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				buf.WriteByte(',')
			}
			if err := e.encode(t.RawGetInt(i), depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	return e.encodeObject(t, depth)
}

func (e *encoder) encodeObject(t *lua.LTable, depth int) error {
	buf := e.buf
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
		if err := e.encode(keys[k], depth+1); err != nil {
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
