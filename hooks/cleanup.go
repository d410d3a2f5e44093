package hooks

import (
	"context"
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
)

var _ policy.Cleanup = (*Engine)(nil)

// Cleanup runs "cleanup" handlers: handler(msg). A handler decides by
// calling msg:reject/hold/discard or by returning a verdict
// (mta.accept(), mta.reject(), mta.defer(), mta.hold(), mta.discard());
// nil passes to the next one. Header and envelope changes are applied to
// m only when every handler that ran succeeded.
func (e *Engine) Cleanup(ctx context.Context, m *policy.Message) (policy.Verdict, error) {
	if !e.Handles("cleanup") {
		return cleanupVerdict(nil), nil // nothing to copy, change or decide
	}
	h := newMsgHandle(m.Header, m.Envelope)
	h.auth = m.Auth
	defer h.invalidate()
	var decided *verdict
	rcpts := rcptList(ctx, &h.env) // for traceRecipients
	c := &call{event: "cleanup", queueID: string(h.env.ID)}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue { return append(buf, h.userdata(L)) }
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		traceRecipients(ctx, where, &rcpts, &h.env)
		if ret != lua.LNil {
			v, ok := asVerdict(ret)
			if !ok {
				return false, "", fmt.Errorf("cleanup handler must return nil or a verdict, not %s", describe(ret))
			}
			decided = v
		} else if h.verdict != nil {
			decided = h.verdict
		}
		if decided == nil {
			return false, "", nil
		}
		return true, decided.String(), nil
	}
	gen, err := e.invoke(ctx, c)
	if err != nil {
		return policy.Verdict{}, err
	}
	h.invalidate()
	if m.Header != nil {
		*m.Header = h.hdr
	}
	if m.Envelope != nil {
		m.Envelope.Sender = h.env.Sender
		m.Envelope.Recipients = h.env.Recipients
		m.Envelope.Meta = h.env.Meta
		m.Envelope.Tenant = h.env.Tenant
	}
	if h.dkim != nil {
		m.DKIM = h.dkim
	}
	v := cleanupVerdict(decided)
	v.Generation = gen
	return v, nil
}

// cleanupVerdict maps a script verdict to the engine's. A deferral is a
// Reject carrying a 4xx status: the caller answers it temporarily.
func cleanupVerdict(v *verdict) policy.Verdict {
	if v == nil {
		return policy.Verdict{Action: policy.Accept}
	}
	switch v.kind {
	case vReject:
		return policy.Verdict{Action: policy.Reject, Status: v.status}
	case vHold:
		return policy.Verdict{Action: policy.Hold, Reason: v.reason}
	case vDiscard:
		return policy.Verdict{Action: policy.Discard, Reason: v.reason}
	}
	return policy.Verdict{Action: policy.Accept}
}
