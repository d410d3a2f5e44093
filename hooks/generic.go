package hooks

import (
	"context"
	"fmt"

	"github.com/emersion/go-message/textproto"
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/hooks/luaconv"
)

// Call runs the handlers of any event with arguments given as plain Go
// values (see luaconv; a *policy.Session becomes a session table) and
// returns the first non-nil result converted back: a verdict becomes a
// map with "action", "code", "enhanced", "text" and "reason". For
// "cleanup" the argument must be a *policy.Message; it is changed in
// place and the result is the policy.Verdict. This is the REPL's
// hooks.call and the scripts' tests' way in.
func (e *Engine) Call(ctx context.Context, event string, args []any) (any, error) {
	if !knownEvent[event] {
		return nil, fmt.Errorf("hooks: unknown event %q", event)
	}
	if event == "cleanup" {
		m, ok := firstArg(args).(*policy.Message)
		if !ok {
			return nil, fmt.Errorf("hooks: cleanup needs a *policy.Message")
		}
		return e.Cleanup(ctx, m)
	}
	if event == "egress" {
		return e.callEgress(ctx, firstArg(args))
	}
	var result any
	c := &call{event: event}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		for _, a := range args {
			if s, ok := a.(*policy.Session); ok {
				buf = append(buf, sessionTable(L, s))
				continue
			}
			if s, ok := a.(testSession); ok {
				t, _ := luaconv.ToLua(L, s.fields).(*lua.LTable)
				if t == nil {
					t = L.NewTable()
				}
				sessionMeta(L, t, s.meta)
				sessionTenant(L, t, s.tenant)
				clientAliases(L, t)
				buf = append(buf, t)
				continue
			}
			buf = append(buf, luaconv.ToLua(L, a))
		}
		return buf
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		if v, ok := asVerdict(ret); ok {
			result = verdictMap(v)
		} else {
			result = luaconv.FromLua(ret)
		}
		return true, fmt.Sprint(result), nil
	}
	_, err := e.invoke(ctx, c)
	return result, err
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

func verdictMap(v *verdict) map[string]any {
	m := map[string]any{"action": verdictNames[v.kind]}
	if v.status != nil {
		m["code"], m["enhanced"], m["text"] = v.status.Code, v.status.Enhanced.String(), v.status.Text
	}
	if v.reason != "" {
		m["reason"] = v.reason
	}
	return m
}

// NewState returns a fresh sandboxed state with the stdlib, the mta
// verdict constructors (mta.on is refused) and a "hooks" table:
// hooks.call(event, ...) runs the live handlers, hooks.generation()
// and hooks.errors() report reload state. The caller owns the state,
// must use it from one goroutine and should Close it.
func (e *Engine) NewState() *lua.LState {
	n, _ := e.Generation()
	L := e.newSandbox(n, nil)
	L.SetGlobal("hooks", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"call":       e.luaCall,
		"generation": func(L *lua.LState) int { n, _ := e.Generation(); L.Push(lua.LNumber(n)); return 1 },
		"errors": func(L *lua.LState) int {
			return pushStrings(L, e.Errors())
		},
		"breakers": e.luaBreakers,
	}))
	return L
}

// luaCall is hooks.call(event, ...). For "cleanup" the argument is a
// table {id=, sender=, recipients={...}, headers={{name, value}, ...},
// meta=, tenant=}
// and the result is {action=, code=, enhanced=, text=, reason=,
// sender=, recipients=, headers=, meta=, tenant=} after the handlers
// ran; its meta and tenant fields, if any, are the message's metadata
// and tenant. For an SMTP phase a table session's meta and tenant fields
// are the connection's, updated in place by the call.
func (e *Engine) luaCall(L *lua.LState) int {
	event := L.CheckString(1)
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if event == "cleanup" {
		return e.luaCleanup(L, ctx)
	}
	args := make([]any, 0, L.GetTop()-1)
	for i := 2; i <= L.GetTop(); i++ {
		args = append(args, luaconv.FromLua(L.Get(i)))
	}
	ts, session := asTestSession(L, event)
	if session != nil {
		args[0] = ts
	}
	res, err := e.Call(ctx, event, args)
	if session != nil {
		session.RawSetString("meta", metaTable(L, ts.meta))
		session.RawSetString("tenant", tenantValue(*ts.tenant))
	}
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(luaconv.ToLua(L, res))
	return 1
}

// testSession is a session table given to hooks.call: its fields are
// passed through as they are, and s:meta/s:set_meta work on meta, which
// starts as the table's "meta" field and is written back to it after
// the call, so a test can carry it from phase to phase; s:set_tenant
// likewise works on tenant, the table's "tenant" field.
type testSession struct {
	fields any
	meta   map[string]string
	tenant *string
}

// asTestSession makes the first argument of an SMTP-phase hooks.call a
// testSession when it is a table.
func asTestSession(L *lua.LState, event string) (testSession, *lua.LTable) {
	t, ok := L.Get(2).(*lua.LTable)
	if !ok || !smtpPhases[event] {
		return testSession{}, nil
	}
	meta := map[string]string{}
	if mt, ok := t.RawGetString("meta").(*lua.LTable); ok {
		mt.ForEach(func(k, v lua.LValue) { meta[k.String()] = v.String() })
	}
	tenant := lua.LVAsString(t.RawGetString("tenant"))
	return testSession{fields: luaconv.FromLua(t), meta: meta, tenant: &tenant}, t
}

// clientAliases gives a test's session table both spellings of the
// client, s.client.addr and the deprecated s.client_addr (and _name),
// from whichever the test wrote.
func clientAliases(L *lua.LState, t *lua.LTable) {
	c, ok := t.RawGetString("client").(*lua.LTable)
	if !ok {
		c = L.NewTable()
		c.RawSetString("addr", t.RawGetString("client_addr"))
		c.RawSetString("name", t.RawGetString("client_name"))
		c.RawSetString("helo", t.RawGetString("helo"))
		c.RawSetString("auth_user", t.RawGetString("auth_user"))
		t.RawSetString("client", c)
		return
	}
	if t.RawGetString("client_addr") == lua.LNil {
		t.RawSetString("client_addr", c.RawGetString("addr"))
	}
	if t.RawGetString("client_name") == lua.LNil {
		t.RawSetString("client_name", c.RawGetString("name"))
	}
}

// smtpPhases are the events whose first argument is the session.
var smtpPhases = map[string]bool{"connect": true, "helo": true, "mail": true, "rcpt": true, "data": true}

func (e *Engine) luaCleanup(L *lua.LState, ctx context.Context) int {
	t := L.CheckTable(2)
	m := &policy.Message{Envelope: &queue.Envelope{}, Header: &textproto.Header{}}
	m.Envelope.ID = queue.ID(lua.LVAsString(t.RawGetString("id")))
	m.Envelope.Sender = lua.LVAsString(t.RawGetString("sender"))
	if rs, ok := t.RawGetString("recipients").(*lua.LTable); ok {
		rs.ForEach(func(_, v lua.LValue) {
			m.Envelope.Recipients = append(m.Envelope.Recipients, queue.Recipient{Addr: v.String(), State: queue.Pending})
		})
	}
	if mt, ok := t.RawGetString("meta").(*lua.LTable); ok {
		m.Envelope.Meta = map[string]string{}
		mt.ForEach(func(k, v lua.LValue) { m.Envelope.Meta[k.String()] = v.String() })
	}
	if tn := lua.LVAsString(t.RawGetString("tenant")); tn != "" {
		if err := queue.CheckTenant(tn); err != nil {
			L.ArgError(2, err.Error())
		}
		m.Envelope.Tenant = tn
	}
	if hs, ok := t.RawGetString("headers").(*lua.LTable); ok {
		// Given top to bottom; Add prepends, so add bottom-up.
		for i := hs.Len(); i >= 1; i-- {
			if f, ok := hs.RawGetInt(i).(*lua.LTable); ok {
				m.Header.Add(lua.LVAsString(f.RawGetInt(1)), lua.LVAsString(f.RawGetInt(2)))
			}
		}
	}
	v, err := e.Cleanup(ctx, m)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(cleanupResult(L, v, m))
	return 1
}

func cleanupResult(L *lua.LState, v policy.Verdict, m *policy.Message) *lua.LTable {
	names := map[policy.Action]string{policy.Accept: "accept", policy.Reject: "reject", policy.Hold: "hold", policy.Discard: "discard"}
	out := L.NewTable()
	out.RawSetString("action", lua.LString(names[v.Action]))
	if v.Status != nil {
		out.RawSetString("code", lua.LNumber(v.Status.Code))
		out.RawSetString("enhanced", lua.LString(v.Status.Enhanced.String()))
		out.RawSetString("text", lua.LString(v.Status.Text))
	}
	out.RawSetString("reason", lua.LString(v.Reason))
	out.RawSetString("sender", lua.LString(m.Envelope.Sender))
	rcpts := L.NewTable()
	for _, r := range m.Envelope.Recipients {
		rcpts.Append(lua.LString(r.Addr))
	}
	out.RawSetString("recipients", rcpts)
	hdrs := L.NewTable()
	for f := m.Header.Fields(); f.Next(); {
		pair := L.NewTable()
		pair.Append(lua.LString(f.Key()))
		pair.Append(lua.LString(f.Value()))
		hdrs.Append(pair)
	}
	out.RawSetString("headers", hdrs)
	out.RawSetString("meta", metaTable(L, m.Envelope.Meta))
	out.RawSetString("tenant", tenantValue(m.Envelope.Tenant))
	return out
}
