package hooks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/policy"
)

var _ egress.Hook = (*Engine)(nil).Egress

// Egress runs "egress" handlers: handler(dest) with dest = {domain=,
// mx={...}, transport=, nexthop=, tenant=}, returning a shaping table
// or nil. No decision gives a nil Policy (the queue manager's defaults).
// The caller caches the answer per destination and generation
// (egress.Cache), so this runs once per destination, not per message.
func (e *Engine) Egress(ctx context.Context, d egress.Dest) (*egress.Policy, error) {
	var pol *egress.Policy
	c := &call{event: "egress"}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		return append(buf, destTable(L, d))
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		p, err := decodeEgress(ret)
		if err != nil {
			return false, "", err
		}
		pol = p
		policy.TraceOf(ctx).Add("egress", where, describePolicy(p))
		return true, describePolicy(p), nil
	}
	if _, err := e.invoke(ctx, c); err != nil {
		return nil, err
	}
	if pol == nil && c.outcome == skippedByBreaker {
		// breaker_fallback = "skip" means "as if undecided" elsewhere;
		// here that would send mail unshaped, which the policy exists
		// to prevent: the egress hook always fails temporarily.
		return nil, &HookError{Event: "egress", Where: "(breaker)", Msg: "circuit breaker open; mail waits for the egress policy"}
	}
	return pol, nil
}

func destTable(L *lua.LState, d egress.Dest) *lua.LTable {
	t := L.CreateTable(0, 5)
	t.RawSetString("domain", lua.LString(d.Domain))
	mx := L.CreateTable(len(d.MX), 0)
	for _, h := range d.MX {
		mx.Append(lua.LString(h))
	}
	t.RawSetString("mx", mx)
	t.RawSetString("transport", lua.LString(d.Transport))
	t.RawSetString("nexthop", lua.LString(d.Nexthop))
	t.RawSetString("tenant", lua.LString(d.Tenant))
	return t
}

// decodeEgress decodes a handler's table strictly: only egress.Keys,
// each with a value of its kind; every problem is reported at once.
func decodeEgress(ret lua.LValue) (*egress.Policy, error) {
	t, ok := ret.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("egress handler must return a table or nil, not %s", describe(ret))
	}
	p := &egress.Policy{}
	var errs []string
	t.ForEach(func(k, v lua.LValue) {
		key, ok := k.(lua.LString)
		if !ok {
			errs = append(errs, fmt.Sprintf("a key that is %s", describe(k)))
			return
		}
		if err := p.Set(string(key), goValue(v)); err != nil {
			errs = append(errs, err.Error())
		}
	})
	if len(errs) == 0 {
		if err := p.Check(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("egress handler returned %s", strings.Join(errs, "; "))
	}
	return p, nil
}

// goValue is v as egress.Policy.Set takes it; other kinds come through
// as themselves and are refused there.
func goValue(v lua.LValue) any {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return float64(x)
	case lua.LBool:
		return bool(x)
	}
	return v
}

// describePolicy is a policy in a few words, for the debug log.
func describePolicy(p *egress.Policy) string {
	return fmt.Sprintf("site=%q connection_limit=%d max_message_rate=%s", p.Site, p.ConnectionLimit, p.MaxMessageRate)
}

// callEgress is hooks.call("egress", {domain=, mx=, transport=,
// nexthop=, tenant=}): the decision decoded strictly, as the queue
// manager sees it, given back as a table of the keys set (nil: none).
func (e *Engine) callEgress(ctx context.Context, arg any) (any, error) {
	m, _ := arg.(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	d := egress.Dest{Domain: str("domain"), Transport: str("transport"), Nexthop: str("nexthop"), Tenant: str("tenant")}
	if list, ok := m["mx"].([]any); ok {
		for _, h := range list {
			if s, ok := h.(string); ok {
				d.MX = append(d.MX, s)
			}
		}
	}
	if d.MX == nil && d.Domain != "" {
		d.MX = []string{d.Domain}
	}
	p, err := e.Egress(ctx, d)
	if err != nil || p == nil {
		return nil, err
	}
	return policyMap(p), nil
}

// policyMap is p as the keys a handler returns, the ones set.
func policyMap(p *egress.Policy) map[string]any {
	out := map[string]any{}
	set := func(k string, v any, ok bool) {
		if ok {
			out[k] = v
		}
	}
	set("connection_limit", p.ConnectionLimit, p.ConnectionLimit > 0)
	set("initial_concurrency", p.InitialConcurrency, p.InitialConcurrency > 0)
	set("max_message_rate", p.MaxMessageRate.String(), p.MaxMessageRate.N > 0)
	set("max_connection_rate", p.MaxConnectionRate.String(), p.MaxConnectionRate.N > 0)
	set("max_deliveries_per_connection", p.MaxDeliveriesPerConnection, p.MaxDeliveriesPerConnection > 0)
	set("idle_timeout", p.IdleTimeout.String(), p.IdleTimeout > 0)
	set("tls", p.TLS, p.TLS != "")
	set("source", p.Source, p.Source != "")
	set("site", p.Site, p.Site != "")
	return out
}
