package hooks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/emersion/go-message/textproto"
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

var (
	_ policy.Rewriter = (*Engine)(nil)
	_ policy.Aliases  = (*Engine)(nil)
	_ policy.Router   = (*Engine)(nil)
)

// Rewrite runs "rewrite" handlers: handler(addr, {role=, where=,
// header=}) returning the new address or nil. No decision keeps addr.
func (e *Engine) Rewrite(ctx context.Context, addr string, ac policy.AddrContext) (string, error) {
	out := addr
	c := &call{event: "rewrite"}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		t := L.CreateTable(0, 3)
		t.RawSetString("role", addrWord(ac.Role))
		t.RawSetString("where", addrWord(ac.Where))
		t.RawSetString("header", lua.LString(ac.Header))
		return append(buf, lua.LString(addr), t)
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		s, ok := ret.(lua.LString)
		if !ok {
			return false, "", fmt.Errorf("rewrite handler must return a string or nil, not %s", describe(ret))
		}
		if err := validAddr(string(s), ac.Role == "sender"); err != nil {
			return false, "", fmt.Errorf("rewrite handler returned %s", err)
		}
		out = string(s)
		policy.TraceOf(ctx).Add("rewrite", where, addr+" -> "+out)
		return true, out, nil
	}
	if _, err := e.invoke(ctx, c); err != nil {
		return "", err
	}
	return out, nil
}

// traceRecipients notes, for a traced call (moonpost route), a cleanup
// handler that changed the recipients, with its position.
func traceRecipients(ctx context.Context, where string, before *string, env *queue.Envelope) {
	t := policy.TraceOf(ctx)
	if t == nil {
		return
	}
	if now := rcptList(ctx, env); now != *before {
		t.Add("cleanup", where, "recipients "+*before+" -> "+now)
		*before = now
	}
}

// rcptList is env's recipients in one string, for a traced call only.
func rcptList(ctx context.Context, env *queue.Envelope) string {
	if policy.TraceOf(ctx) == nil {
		return ""
	}
	list := make([]string, len(env.Recipients))
	for i, r := range env.Recipients {
		list[i] = r.Addr
	}
	return strings.Join(list, ", ")
}

// The words of policy.AddrContext's Role and Where, made Lua values once:
// converting a string to a Lua value allocates, and rewriting is called
// for every address of every message.
var (
	lvSender    lua.LValue = lua.LString("sender")
	lvRecipient lua.LValue = lua.LString("recipient")
	lvEnvelope  lua.LValue = lua.LString("envelope")
	lvHeader    lua.LValue = lua.LString("header")
)

func addrWord(s string) lua.LValue {
	switch s {
	case "sender":
		return lvSender
	case "recipient":
		return lvRecipient
	case "envelope":
		return lvEnvelope
	case "header":
		return lvHeader
	}
	return lua.LString(s)
}

func validAddr(s string, allowEmpty bool) error {
	if s == "" && !allowEmpty {
		return fmt.Errorf("an empty address")
	}
	if len(s) > 512 || strings.ContainsAny(s, "\r\n\x00 \t<>") {
		return fmt.Errorf("an invalid address %q", s)
	}
	return nil
}

// ExpandAlias runs "alias" handlers: handler(local_part, domain)
// returning a list of targets, one target string, or nil (no alias).
func (e *Engine) ExpandAlias(ctx context.Context, local, domain string) ([]string, bool, error) {
	var targets []string
	c := &call{event: "alias"}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		return append(buf, lua.LString(local), lua.LString(domain))
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		list, err := decodeTargets(ret)
		if err != nil {
			return false, "", err
		}
		targets = list
		policy.TraceOf(ctx).Add("alias", where, strings.Join(list, ", "))
		return true, strings.Join(list, ", "), nil
	}
	if _, err := e.invoke(ctx, c); err != nil {
		return nil, false, err
	}
	return targets, targets != nil, nil
}

// decodeTargets accepts a string or a sequence of strings; an empty list
// is refused, because aliases(5) has no way to say "to nobody" either.
func decodeTargets(ret lua.LValue) ([]string, error) {
	if s, ok := ret.(lua.LString); ok {
		if s == "" || strings.ContainsAny(string(s), "\r\n\x00") {
			return nil, fmt.Errorf("alias target is not a valid string")
		}
		return []string{string(s)}, nil
	}
	t, ok := ret.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("alias handler must return a list of targets or nil, not %s", describe(ret))
	}
	var bad error
	n := 0
	t.ForEach(func(k, v lua.LValue) {
		n++
		if _, isNum := k.(lua.LNumber); !isNum && bad == nil {
			bad = fmt.Errorf("alias handler returned a table with key %q; want a list", k.String())
		}
	})
	if bad != nil {
		return nil, bad
	}
	if n == 0 || n != t.Len() {
		return nil, fmt.Errorf("alias handler returned an empty or holed list")
	}
	list := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok || s == "" || strings.ContainsAny(string(s), "\r\n\x00") {
			return nil, fmt.Errorf("alias target %d is not a valid string", i)
		}
		list = append(list, string(s))
	}
	return list, nil
}

// Route runs "transport" handlers: handler(rcpt, m) returning a route
// table, a transport(5) string or nil, where m is the message's envelope
// (sender, id, size, client, meta, arrival, attempts, m:recipients()) and
// header (m:header(name), m:headers(name), read from the header attached
// to ctx by policy.WithHeader only when a handler asks). No decision
// gives a route without a transport, so that the engine's Go default
// (resolve.Static: mydestination, relayhost) applies.
func (e *Engine) Route(ctx context.Context, rcpt string, env *queue.Envelope) (policy.Route, error) {
	var route policy.Route // Transport is set once a handler decided
	var reads policy.EnvFields
	c := &call{event: "transport"}
	if env != nil {
		c.queueID = string(env.ID)
	}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		return append(buf, lua.LString(rcpt), watchedInfo(L, msgInfo(L, env), func(k string) lua.LGFunction { return routeMethod(ctx, env, k) }, &reads))
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		r, err := decodeRoute(ret)
		if err != nil {
			return false, "", err
		}
		route = r
		policy.TraceOf(ctx).Add("transport", where, r.Transport+":"+r.Nexthop)
		return true, r.Transport + ":" + r.Nexthop, nil
	}
	gen, err := e.invoke(ctx, c)
	if err != nil {
		return policy.Route{}, err
	}
	route.Reads, route.Generation = reads, gen
	return route, nil
}

// watchedInfo hands a handler the message facts through an empty table
// whose __index notes each field read, so that the decision can be cached
// for mail that agrees on those fields (policy.Route.Reads). The price: the
// table cannot be walked with pairs(); handlers read it by field. The
// methods (m:header and friends) are made when first looked up.
func watchedInfo(L *lua.LState, info lua.LValue, method func(string) lua.LGFunction, reads *policy.EnvFields) lua.LValue {
	facts, ok := info.(*lua.LTable)
	if !ok {
		return info
	}
	proxy, mt := L.CreateTable(0, 0), L.CreateTable(0, 1)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		k := L.CheckString(2)
		*reads |= infoField[k]
		if fn := method(k); fn != nil {
			L.Push(L.NewFunction(fn))
			return 1
		}
		L.Push(facts.RawGetString(k))
		return 1
	}))
	L.SetMetatable(proxy, mt)
	return proxy
}

// infoField maps the transport handler's message facts to the envelope
// fields they come from. What only this message has (its recipients, its
// header, its arrival) keys the decision to the message, as its ID does.
var infoField = map[string]policy.EnvFields{
	"sender": policy.ReadsSender, "id": policy.ReadsID, "size": policy.ReadsSize, "client": policy.ReadsClient,
	"tenant": policy.ReadsTenant,
	"meta":   policy.ReadsMeta, "attempts": policy.ReadsAttempts,
	"arrival": policy.ReadsID, "recipients": policy.ReadsID, "header": policy.ReadsID, "headers": policy.ReadsID,
}

func msgInfo(L *lua.LState, env *queue.Envelope) lua.LValue {
	t := L.CreateTable(0, 7)
	if env == nil {
		return t
	}
	t.RawSetString("sender", lua.LString(env.Sender))
	t.RawSetString("id", lua.LString(env.ID))
	t.RawSetString("size", lua.LNumber(env.Size))
	t.RawSetString("client", clientTable(L, env.Client))
	t.RawSetString("meta", metaTable(L, env.Meta))
	t.RawSetString("tenant", tenantValue(env.Tenant))
	if !env.Arrival.IsZero() {
		t.RawSetString("arrival", lua.LNumber(float64(env.Arrival.UnixMilli())/1000))
	}
	t.RawSetString("attempts", lua.LNumber(env.Attempts))
	return t
}

// routeMethod returns m:recipients(), m:header(name) or m:headers(name),
// as on the cleanup handle, or nil for any other key. The header is read
// (from the queue file, in the queue manager) on the first call only; a
// message routed without one (a bare envelope) has an empty header.
func routeMethod(ctx context.Context, env *queue.Envelope, key string) lua.LGFunction {
	switch key {
	case "recipients":
		return func(L *lua.LState) int {
			var addrs []string
			if env != nil {
				for _, r := range env.Recipients {
					addrs = append(addrs, r.Addr)
				}
			}
			return pushStrings(L, addrs)
		}
	case "header":
		return func(L *lua.LState) int {
			if v := routeHeader(ctx, L).Values(L.CheckString(2)); len(v) > 0 {
				L.Push(lua.LString(v[0]))
				return 1
			}
			L.Push(lua.LNil)
			return 1
		}
	case "headers":
		return func(L *lua.LState) int { return pushStrings(L, routeHeader(ctx, L).Values(L.CheckString(2))) }
	}
	return nil
}

// routeHeader is the header attached to ctx (policy.WithHeader), or an
// empty one; a header that cannot be read is a Lua error.
func routeHeader(ctx context.Context, L *lua.LState) *textproto.Header {
	read := policy.HeaderOf(ctx)
	if read == nil {
		return &textproto.Header{}
	}
	h, err := read()
	if err != nil {
		L.RaiseError("reading the message header: %v", err)
	}
	return h
}

// transports the engine knows; anything else is a script mistake.
var transports = map[string]bool{
	"smtp": true, "lmtp": true, "local": true, "pipe": true,
	"discard": true, "error": true, "relay": true,
}

// parseRoute reads transport(5) shorthand: "smtp:[relay]:587",
// "lmtp:unix:/path", "error:5.1.1 retired", "local".
func parseRoute(s string) (policy.Route, error) {
	tr, next, _ := strings.Cut(strings.TrimSpace(s), ":")
	if !transports[tr] {
		return policy.Route{}, fmt.Errorf("unknown transport %q in %q", tr, s)
	}
	if strings.ContainsAny(next, "\r\n\x00") {
		return policy.Route{}, fmt.Errorf("invalid next hop in %q", s)
	}
	return policy.Route{Transport: tr, Nexthop: next}, nil
}

// decodeRoute decodes a handler's return strictly: a table may hold only
// transport, nexthop and options, and options only string-able values.
func decodeRoute(ret lua.LValue) (policy.Route, error) {
	if s, ok := ret.(lua.LString); ok {
		return parseRoute(string(s))
	}
	t, ok := ret.(*lua.LTable)
	if !ok {
		return policy.Route{}, fmt.Errorf("transport handler must return a table, a string or nil, not %s", describe(ret))
	}
	var r policy.Route
	var errs []string
	t.ForEach(func(k, v lua.LValue) {
		if err := setRouteField(&r, k, v); err != nil {
			errs = append(errs, err.Error())
		}
	})
	if len(errs) > 0 {
		sort.Strings(errs)
		return policy.Route{}, fmt.Errorf("transport handler returned %s", strings.Join(errs, "; "))
	}
	if !transports[r.Transport] {
		return policy.Route{}, fmt.Errorf("transport handler returned unknown transport %q", r.Transport)
	}
	return r, nil
}

func setRouteField(r *policy.Route, k, v lua.LValue) error {
	key, _ := k.(lua.LString)
	switch key {
	case "transport", "nexthop":
		s, ok := v.(lua.LString)
		if !ok || strings.ContainsAny(string(s), "\r\n\x00") {
			return fmt.Errorf("a bad %s (%s)", key, describe(v))
		}
		if key == "transport" {
			r.Transport = string(s)
		} else {
			r.Nexthop = string(s)
		}
		return nil
	case "options":
		return setOptions(r, v)
	}
	return fmt.Errorf("unknown key %q", k.String())
}

func setOptions(r *policy.Route, v lua.LValue) error {
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf("options that are %s, not a table", describe(v))
	}
	r.Options = map[string]string{}
	var bad error
	t.ForEach(func(k, v lua.LValue) {
		ks, kok := k.(lua.LString)
		switch v.(type) {
		case lua.LString, lua.LNumber, lua.LBool:
		default:
			kok = false
		}
		if !kok || strings.ContainsAny(v.String(), "\r\n\x00") {
			bad = fmt.Errorf("option %q with %s", k.String(), describe(v))
			return
		}
		r.Options[string(ks)] = v.String()
	})
	return bad
}
