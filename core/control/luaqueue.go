package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/hooks/luaconv"
)

// Body sizes queue.get returns: get(id, true) and the most it accepts.
const (
	defaultBody = 64 << 10
	maxBody     = 1 << 20
)

// queueModule is the REPL's "queue" table over an Admin.
type queueModule struct{ a *admin.Admin }

func newQueueModule(L *lua.LState, a *admin.Admin) *lua.LTable {
	q := &queueModule{a: a}
	t := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"list": q.list, "stats": q.stats, "get": q.get, "flush": q.flush(false),
	})
	dry := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{"flush": q.flush(true)})
	for _, op := range []qmgr.Op{qmgr.OpHold, qmgr.OpRelease, qmgr.OpRequeue, qmgr.OpDelete, qmgr.OpBounce} {
		t.RawSetString(op.String(), L.NewFunction(q.action(op, false)))
		dry.RawSetString(op.String(), L.NewFunction(q.action(op, true)))
	}
	t.RawSetString("dry_run", dry)
	q.addShaping(L, t)
	return t
}

func ctxOf(L *lua.LState) context.Context {
	if ctx := L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// push converts a Go result to Lua through its JSON form, so the Lua
// names are the JSON ones (snake_case) and times are RFC 3339 strings.
func push(L *lua.LState, v any, err error) int {
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	b, err := json.Marshal(v)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	var plain any
	if err := json.Unmarshal(b, &plain); err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(luaconv.ToLua(L, plain))
	return 1
}

// queue.list([filter]) returns the matching entries; queue.list(filter,
// fn) hands them to fn one at a time instead, until fn returns false,
// and returns how many it handed: a queue of any size is walked in
// constant memory.
func (q *queueModule) list(L *lua.LState) int {
	var f admin.Filter
	if t, ok := L.Get(1).(*lua.LTable); ok {
		var err error
		if f, err = filterOf(t); err != nil {
			L.ArgError(1, err.Error())
		}
	} else if L.Get(1) != lua.LNil {
		L.ArgError(1, "filter table expected")
	}
	if fn, ok := L.Get(2).(*lua.LFunction); ok {
		return q.each(L, f, fn)
	}
	ents, err := q.a.List(ctxOf(L), f)
	if ents == nil {
		ents = []admin.Entry{}
	}
	return push(L, ents, err)
}

// each is queue.list(filter, fn).
func (q *queueModule) each(L *lua.LState, f admin.Filter, fn *lua.LFunction) int {
	ctx, stop := context.WithCancel(ctxOf(L))
	defer stop()
	n := 0
	err := q.a.Each(ctx, f, func(e admin.Entry) {
		if ctx.Err() != nil {
			return
		}
		n++
		L.Push(fn)
		push(L, e, nil)
		L.Call(1, 1)
		if ret := L.Get(-1); ret == lua.LFalse {
			stop()
		}
		L.Pop(1)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		L.RaiseError("%s", err.Error())
	}
	if err := ctxOf(L).Err(); err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(lua.LNumber(n))
	return 1
}

// queue.stats([top]) summarises the queue.
func (q *queueModule) stats(L *lua.LState) int {
	s, err := q.a.Stats(ctxOf(L), L.OptInt(1, 10))
	return push(L, s, err)
}

// queue.get(id [, body]) reads one message; body is true (64 KiB) or a
// byte count.
func (q *queueModule) get(L *lua.LState) int {
	id := L.CheckString(1)
	var limit int64
	switch b := L.Get(2).(type) {
	case lua.LBool:
		if b {
			limit = defaultBody
		}
	case lua.LNumber:
		limit = min(int64(b), maxBody)
	}
	m, err := q.a.Get(queue.ID(id), limit)
	return push(L, m, err)
}

// queue.flush([domain]) retries deferred mail now.
func (q *queueModule) flush(dry bool) lua.LGFunction {
	return func(L *lua.LState) int {
		r, err := q.a.Flush(ctxOf(L), L.OptString(1, ""), dry)
		return push(L, r, err)
	}
}

// queue.<op>(sel [, text]): hold's reason or bounce's text.
func (q *queueModule) action(op qmgr.Op, dry bool) lua.LGFunction {
	return func(L *lua.LState) int {
		sel, err := selectionOf(L.Get(1))
		if err != nil {
			L.ArgError(1, err.Error())
		}
		r, err := q.a.Do(ctxOf(L), op, sel, L.OptString(2, ""), dry)
		return push(L, r, err)
	}
}

// selectionOf reads sel: an ID, "ALL", a list of IDs (or of entries
// from queue.list), or a filter table. An empty table is refused so
// that a filter built wrong never selects the whole queue.
func selectionOf(v lua.LValue) (admin.Selection, error) {
	switch x := v.(type) {
	case lua.LString:
		if x == "ALL" {
			return admin.Selection{}, nil
		}
		return admin.Selection{IDs: []queue.ID{queue.ID(x)}}, nil
	case *lua.LTable:
		if x.Len() > 0 {
			ids, err := idsOf(x)
			return admin.Selection{IDs: ids}, err
		}
		if k, _ := x.Next(lua.LNil); k == lua.LNil {
			return admin.Selection{}, errors.New(`empty selection: give IDs, a filter, or "ALL"`)
		}
		f, err := filterOf(x)
		return admin.Selection{Filter: f}, err
	}
	return admin.Selection{}, errors.New("queue ID, list of IDs or filter table expected")
}

func idsOf(t *lua.LTable) ([]queue.ID, error) {
	var ids []queue.ID
	for i := 1; i <= t.Len(); i++ {
		v := t.RawGetInt(i)
		if e, ok := v.(*lua.LTable); ok {
			v = e.RawGetString("id") // an entry from queue.list
		}
		s, ok := v.(lua.LString)
		if !ok {
			return nil, fmt.Errorf("item %d: queue ID expected", i)
		}
		ids = append(ids, queue.ID(s))
	}
	return ids, nil
}

// filterOf decodes a filter table strictly: an unknown key is an error.
func filterOf(t *lua.LTable) (admin.Filter, error) {
	var spec admin.Spec
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("filter keys are names, got %s", k.Type())
			return
		}
		err = spec.Set(string(key), filterValue(v))
	})
	if err != nil {
		return admin.Filter{}, err
	}
	return spec.Compile()
}

// filterValue gives a value's text form; a list (of states) is joined
// with commas.
func filterValue(v lua.LValue) string {
	if t, ok := v.(*lua.LTable); ok {
		var parts []string
		for i := 1; i <= t.Len(); i++ {
			parts = append(parts, t.RawGetInt(i).String())
		}
		return strings.Join(parts, ",")
	}
	return v.String()
}
