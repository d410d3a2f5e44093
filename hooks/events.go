package hooks

import (
	"context"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
)

var _ policy.Events = (*Engine)(nil)

// Delivered runs "delivered" handlers: handler(event).
func (e *Engine) Delivered(ctx context.Context, ev policy.Event) { e.event(ctx, "delivered", ev) }

// Deferred runs "deferred" handlers: handler(event).
func (e *Engine) Deferred(ctx context.Context, ev policy.Event) { e.event(ctx, "deferred", ev) }

// Bounced runs "bounced" handlers: handler(event).
func (e *Engine) Bounced(ctx context.Context, ev policy.Event) { e.event(ctx, "bounced", ev) }

// event calls every handler (return values are ignored: an outcome is
// already recorded and cannot change). Errors are logged by invoke.
func (e *Engine) event(ctx context.Context, name string, ev policy.Event) {
	if !e.Handles(name) {
		return
	}
	c := &call{event: name, queueID: ev.QueueID, outcome: "notified"}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue { return append(buf, eventTable(L, ev)) }
	c.decide = func(*lua.LState, lua.LValue, string) (bool, string, error) { return false, "", nil }
	_, _ = e.invoke(ctx, c)
}

func eventTable(L *lua.LState, ev policy.Event) *lua.LTable {
	t := L.CreateTable(0, 8)
	t.RawSetString("id", lua.LString(ev.QueueID))
	t.RawSetString("queue_id", lua.LString(ev.QueueID)) // deprecated spelling
	t.RawSetString("sender", lua.LString(ev.Sender))
	t.RawSetString("recipient", lua.LString(ev.Recipient))
	t.RawSetString("relay", lua.LString(ev.Relay))
	t.RawSetString("attempts", lua.LNumber(ev.Attempts))
	if ev.Class != "" {
		t.RawSetString("class", lua.LString(ev.Class)) // nil for a delivery
	}
	t.RawSetString("meta", metaTable(L, ev.Meta))
	t.RawSetString("tenant", tenantValue(ev.Tenant))
	if ev.Status != nil {
		st := L.CreateTable(0, 3)
		st.RawSetString("code", lua.LNumber(ev.Status.Code))
		st.RawSetString("enhanced", lua.LString(ev.Status.Enhanced.String()))
		st.RawSetString("text", lua.LString(ev.Status.Text))
		t.RawSetString("status", st)
	}
	return t
}
