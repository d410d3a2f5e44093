package hooks

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/dsn"
)

// Events are the hook names scripts may register for.
var Events = []string{
	"connect", "helo", "mail", "rcpt", "data", "auth",
	"cleanup", "rewrite", "alias", "transport",
	"delivered", "deferred", "bounced",
	"milter", // hooks/milter.go
	"egress", // hooks/egress.go
}

var knownEvent = func() map[string]bool {
	m := map[string]bool{}
	for _, ev := range Events {
		m[ev] = true
	}
	return m
}()

// verdictKind says what a verdict does.
type verdictKind int

const (
	vAccept  verdictKind = iota // accept now, skip further handlers
	vReject                     // refuse with status (4xx or 5xx)
	vHold                       // cleanup only: park in hold/
	vDiscard                    // cleanup only: say yes, keep nothing
)

var verdictNames = map[verdictKind]string{vAccept: "accept", vReject: "reject", vHold: "hold", vDiscard: "discard"}

// verdict is the userdata behind mta.accept(), mta.reject() and friends.
// Being userdata, a script cannot forge one from a table by mistake.
type verdict struct {
	kind   verdictKind
	status *dsn.Status // vReject
	reason string      // vHold, vDiscard
}

func (v *verdict) String() string {
	switch v.kind {
	case vReject:
		return "reject " + v.status.Error()
	case vHold, vDiscard:
		return verdictNames[v.kind] + " " + v.reason
	}
	return "accept"
}

const verdictType = "mta.verdict"

// newMTAModule builds the mta table. st is the state being loaded; nil
// for states that only use the constructors (REPL, tests).
func newMTAModule(L *lua.LState, st *state) *lua.LTable {
	mt := L.NewTypeMetatable(verdictType)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkVerdict(L, 1).String()))
		return 1
	}))
	mt.RawSetString("__index", L.NewFunction(verdictIndex))
	m := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"accept":   func(L *lua.LState) int { return pushVerdict(L, &verdict{kind: vAccept}) },
		"reject":   func(L *lua.LState) int { return pushVerdict(L, rejectArgs(L, 1)) },
		"defer":    deferFn,
		"tempfail": deferFn,
		"hold": func(L *lua.LState) int {
			return pushVerdict(L, &verdict{kind: vHold, reason: L.OptString(1, "held by policy")})
		},
		"discard": func(L *lua.LState) int {
			return pushVerdict(L, &verdict{kind: vDiscard, reason: L.OptString(1, "discarded by policy")})
		},
		"on":       func(L *lua.LState) int { return mtaOn(L, st) },
		"selftest": func(L *lua.LState) int { return mtaSelftest(L, st) },
	})
	events := L.NewTable()
	for _, ev := range Events {
		events.Append(lua.LString(ev))
	}
	m.RawSetString("events", events)
	return m
}

func deferFn(L *lua.LState) int {
	return pushVerdict(L, statusVerdict(L, 1, 451, "4.7.1", "Try again later", true))
}

// rejectArgs reads mta.reject's arguments starting at index base.
func rejectArgs(L *lua.LState, base int) *verdict {
	return statusVerdict(L, base, 550, "5.7.1", "Rejected by policy", false)
}

// statusVerdict reads (code, enhanced, text), (code, text) or (text).
// A deferral must carry a 4xx code, a rejection a 4xx or 5xx one:
// mistakes raise at the script line rather than change the meaning.
func statusVerdict(L *lua.LState, base, code int, enh, text string, temporary bool) *verdict {
	args := []lua.LValue{L.Get(base), L.Get(base + 1), L.Get(base + 2)}
	if s, ok := args[0].(lua.LString); ok {
		text = string(s)
	} else if args[0] != lua.LNil {
		code = L.CheckInt(base)
		switch {
		case args[2] != lua.LNil:
			enh, text = L.CheckString(base+1), L.CheckString(base+2)
		case args[1] != lua.LNil:
			enh, text = "", L.CheckString(base+1)
		}
	}
	if temporary && code/100 != 4 {
		L.ArgError(base, fmt.Sprintf("defer needs a 4xx code, got %d", code))
	}
	if code < 400 || code > 599 {
		L.ArgError(base, fmt.Sprintf("reject needs a 4xx or 5xx code, got %d", code))
	}
	return &verdict{kind: vReject, status: dsn.New(code, enh, text)}
}

func pushVerdict(L *lua.LState, v *verdict) int {
	ud := L.NewUserData()
	ud.Value = v
	L.SetMetatable(ud, L.GetTypeMetatable(verdictType))
	L.Push(ud)
	return 1
}

func checkVerdict(L *lua.LState, n int) *verdict {
	v, ok := L.CheckUserData(n).Value.(*verdict)
	if !ok {
		L.ArgError(n, "verdict expected")
	}
	return v
}

// asVerdict returns the verdict inside v, if it is one.
func asVerdict(v lua.LValue) (*verdict, bool) {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return nil, false
	}
	vd, ok := ud.Value.(*verdict)
	return vd, ok
}

// verdictIndex exposes v.action, v.code, v.enhanced, v.text, v.reason
// so tests and the REPL can look inside.
func verdictIndex(L *lua.LState) int {
	v := checkVerdict(L, 1)
	switch L.CheckString(2) {
	case "action":
		L.Push(lua.LString(verdictNames[v.kind]))
	case "code":
		if v.status == nil {
			return 0
		}
		L.Push(lua.LNumber(v.status.Code))
	case "enhanced":
		if v.status == nil {
			return 0
		}
		L.Push(lua.LString(v.status.Enhanced.String()))
	case "text":
		if v.status == nil {
			return 0
		}
		L.Push(lua.LString(v.status.Text))
	case "reason":
		L.Push(lua.LString(v.reason))
	default:
		return 0
	}
	return 1
}

func mtaOn(L *lua.LState, st *state) int {
	event := L.CheckString(1)
	fn := L.CheckFunction(2)
	if st == nil || !st.loading {
		L.RaiseError("mta.on: handlers are registered only while scripts load")
	}
	if !knownEvent[event] {
		L.RaiseError("mta.on: unknown event %q", event)
	}
	h := handler{fn: fn, where: funcPos(fn), lastFirst: event == "auth" && authOldOrder(fn)}
	st.handlers[event] = append(st.handlers[event], h)
	return 0
}

func mtaSelftest(L *lua.LState, st *state) int {
	fn := L.CheckFunction(1)
	if st == nil || !st.loading {
		L.RaiseError("mta.selftest: selftests are registered only while scripts load")
	}
	st.selftests = append(st.selftests, fn)
	return 0
}
