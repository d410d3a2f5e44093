package hooks

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/queue"
)

// Metadata is a string map a script keeps with the connection
// (s:set_meta, s:meta) or the message (msg:set_meta, msg:meta), as
// KumoMTA's set_meta and Haraka's notes: decide once, read it in a later
// phase. The connection's map is copied into each message it queues;
// the message's is stored in the queue file and shown to the transport
// hook (info.meta) and the delivery events (ev.meta). Bounds are
// queue.CheckMeta's.

// setMeta is the body of set_meta(handle, key, value): value nil removes
// the key; anything but a string or number is an error.
func setMeta(L *lua.LState, meta map[string]string) {
	key := L.CheckString(2)
	v := L.Get(3)
	if v == lua.LNil {
		delete(meta, key)
		return
	}
	if v.Type() != lua.LTString && v.Type() != lua.LTNumber {
		L.ArgError(3, "meta values are strings, not "+v.Type().String())
	}
	if err := queue.CheckMeta(meta, key, v.String()); err != nil {
		L.RaiseError("%s", err.Error())
	}
	meta[key] = v.String()
}

// getMeta is the body of meta(handle [, key]): the value or nil, or with
// no key a copy of the whole map as a table.
func getMeta(L *lua.LState, meta map[string]string) int {
	if L.GetTop() < 2 {
		L.Push(metaTable(L, meta))
		return 1
	}
	if v, ok := meta[L.CheckString(2)]; ok {
		L.Push(lua.LString(v))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// metaTable is a fresh table copy of meta (changing it changes nothing).
func metaTable(L *lua.LState, meta map[string]string) *lua.LTable {
	t := L.CreateTable(0, len(meta))
	for k, v := range meta {
		t.RawSetString(k, lua.LString(v))
	}
	return t
}

// sessionMeta adds s:meta and s:set_meta to a session table. Without a
// map to keep them in (a session no connection owns), set_meta fails.
func sessionMeta(L *lua.LState, t *lua.LTable, meta map[string]string) {
	t.RawSetString("meta", L.NewFunction(func(L *lua.LState) int { return getMeta(L, meta) }))
	t.RawSetString("set_meta", L.NewFunction(func(L *lua.LState) int {
		if meta == nil {
			L.RaiseError("this session keeps no metadata")
		}
		setMeta(L, meta)
		return 0
	}))
}
