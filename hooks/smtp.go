package hooks

import (
	"context"
	"fmt"

	"github.com/emersion/go-message/textproto"
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

var (
	_ policy.SMTP          = (*Engine)(nil)
	_ policy.Authenticator = (*Engine)(nil)
)

// sessionTable is the handlers' view of a session: a fresh snapshot per
// call, so what a script writes into it goes nowhere.
func sessionTable(L *lua.LState, s *policy.Session) lua.LValue {
	if s == nil {
		return lua.LNil
	}
	t := L.CreateTable(0, 14)
	t.RawSetString("id", lua.LString(s.ID))
	t.RawSetString("listener", lua.LString(s.Listener))
	if s.ClientAddr.IsValid() {
		t.RawSetString("client_addr", lua.LString(s.ClientAddr.String()))
	} else {
		t.RawSetString("client_addr", lua.LString(""))
	}
	t.RawSetString("client_name", lua.LString(s.ClientName))
	// client is the one spelling, as msg.client in cleanup; client_addr
	// and client_name are the deprecated ones.
	t.RawSetString("client", clientTable(L, queue.Client{Name: s.ClientName,
		Addr: lua.LVAsString(t.RawGetString("client_addr")), Helo: s.Helo, AuthUser: s.AuthUser}))
	t.RawSetString("helo", lua.LString(s.Helo))
	t.RawSetString("tls", lua.LBool(s.TLS))
	t.RawSetString("auth_user", lua.LString(s.AuthUser))
	t.RawSetString("trusted", lua.LBool(s.Trusted))
	t.RawSetString("sender", lua.LString(s.Sender))
	t.RawSetString("size", lua.LNumber(s.Size))
	rcpts := L.CreateTable(len(s.Recipients), 0)
	for _, r := range s.Recipients {
		rcpts.Append(lua.LString(r))
	}
	t.RawSetString("recipients", rcpts)
	sessionMeta(L, t, s.Meta)
	sessionTenant(L, t, s.Tenant)
	return t
}

// smtpPhase runs one SMTP-phase event. Handlers return nil (next),
// mta.accept() (accept, stop) or mta.reject()/mta.defer() (reply).
func (e *Engine) smtpPhase(ctx context.Context, event string, s *policy.Session, extra func(L *lua.LState) lua.LValue) (*dsn.Status, error) {
	var status *dsn.Status
	c := &call{event: event}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		buf = append(buf, sessionTable(L, s))
		if extra != nil {
			buf = append(buf, extra(L))
		}
		return buf
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		v, ok := asVerdict(ret)
		if !ok || v.kind == vHold || v.kind == vDiscard {
			return false, "", fmt.Errorf("%s handler must return nil, mta.accept(), mta.reject() or mta.defer(), not %s", event, describe(ret))
		}
		status = v.status // nil for accept
		return true, v.String(), nil
	}
	gen, err := e.invoke(ctx, c)
	if s != nil {
		s.Generation = gen
	}
	if err != nil {
		return nil, err
	}
	return status, nil
}

// Connect runs "connect" handlers: handler(s).
func (e *Engine) Connect(ctx context.Context, s *policy.Session) (*dsn.Status, error) {
	if !e.Handles("connect") {
		return nil, nil
	}
	return e.smtpPhase(ctx, "connect", s, nil)
}

// Helo runs "helo" handlers: handler(s, helo).
func (e *Engine) Helo(ctx context.Context, s *policy.Session, helo string) (*dsn.Status, error) {
	if !e.Handles("helo") {
		return nil, nil
	}
	return e.smtpPhase(ctx, "helo", s, str(helo))
}

// Mail runs "mail" handlers: handler(s, from).
func (e *Engine) Mail(ctx context.Context, s *policy.Session, from string) (*dsn.Status, error) {
	if !e.Handles("mail") {
		return nil, nil
	}
	return e.smtpPhase(ctx, "mail", s, str(from))
}

// Rcpt runs "rcpt" handlers: handler(s, to).
func (e *Engine) Rcpt(ctx context.Context, s *policy.Session, to string) (*dsn.Status, error) {
	if !e.Handles("rcpt") {
		return nil, nil
	}
	return e.smtpPhase(ctx, "rcpt", s, str(to))
}

// Data runs "data" handlers: handler(s, hdr), where hdr is a read-only
// message handle offering hdr:header(name), hdr:headers(name) and
// hdr.auth, the inbound authentication results.
func (e *Engine) Data(ctx context.Context, s *policy.Session, header *textproto.Header, auth *policy.AuthResults) (*dsn.Status, error) {
	if !e.Handles("data") {
		return nil, nil
	}
	h := &msgHandle{readOnly: true, auth: auth}
	if header != nil {
		h.hdr = header.Copy()
	}
	defer h.invalidate()
	return e.smtpPhase(ctx, "data", s, func(L *lua.LState) lua.LValue { return h.userdata(L) })
}

func str(s string) func(L *lua.LState) lua.LValue {
	return func(*lua.LState) lua.LValue { return lua.LString(s) }
}

// WithSession attaches the SMTP session to ctx, so Authenticate can pass
// it to "auth" handlers as their first argument. It is policy.WithSession,
// which the SMTP server calls itself.
func WithSession(ctx context.Context, s *policy.Session) context.Context {
	return policy.WithSession(ctx, s)
}

// Authenticate runs "auth" handlers: handler(s, user, pass), the session
// first as in every SMTP-phase hook, returning true (accept), false
// (refuse) or nil (next). No decision refuses. s is nil when the caller
// attached no session.
func (e *Engine) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	ok, _, err := e.AuthDecide(ctx, user, pass)
	return ok, err
}

// AuthDecide is Authenticate that also says whether a handler decided,
// so the daemon can fall back to its password file when no script has
// an opinion.
func (e *Engine) AuthDecide(ctx context.Context, user, pass string) (ok, decided bool, err error) {
	s := policy.SessionFrom(ctx)
	c := &call{event: "auth"}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		return append(buf, sessionTable(L, s), lua.LString(user), lua.LString(pass))
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		switch ret {
		case lua.LNil:
			return false, "", nil
		case lua.LTrue, lua.LFalse:
			ok, decided = ret == lua.LTrue, true
			return true, fmt.Sprint("authenticated=", ok), nil
		}
		return false, "", fmt.Errorf("auth handler must return true, false or nil, not %s", describe(ret))
	}
	if _, err := e.invoke(ctx, c); err != nil {
		return false, false, err
	}
	return ok, decided, nil
}

// describe names a Lua value in an error message without dumping it.
func describe(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("string %q", string(v))
	case *lua.LUserData:
		if vd, ok := v.Value.(*verdict); ok {
			return "mta." + verdictNames[vd.kind] + "()"
		}
	}
	return "a " + v.Type().String()
}
