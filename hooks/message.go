package hooks

import (
	"strings"
	"sync/atomic"

	"github.com/emersion/go-message/textproto"
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

const msgType = "mta.message"

// maxHeaderValue bounds one header value set by a script.
const maxHeaderValue = 64 << 10

// msgHandle is the message a cleanup (or data) handler sees. It works on
// copies: the caller's message changes only when the whole hook
// succeeded, so a handler that fails half-way leaves nothing half-done.
// The handle is invalidated when the hook returns; a script that kept it
// in a global gets a Lua error, and never reaches the caller's memory.
type msgHandle struct {
	valid    atomic.Bool
	readOnly bool // the "data" view: headers only, no changes
	hdr      textproto.Header
	env      queue.Envelope // copy; Sender and Recipients may change
	verdict  *verdict       // set by msg:reject/hold/discard
	ud       *lua.LUserData
	client   *lua.LTable         // cached msg.client
	auth     *policy.AuthResults // inbound results, read-only (auth.go)
	dkim     *policy.DKIMChoice  // set by msg:dkim_sign (auth.go)
}

func newMsgHandle(hdr *textproto.Header, env *queue.Envelope) *msgHandle {
	h := &msgHandle{}
	if hdr != nil {
		h.hdr = hdr.Copy()
	}
	if env != nil {
		h.env = *env
		h.env.Recipients = append([]queue.Recipient(nil), env.Recipients...)
		h.env.Meta = queue.CloneMeta(env.Meta)
	}
	return h
}

func (h *msgHandle) invalidate() { h.valid.Store(false) }

// userdata returns the Lua handle, creating it in L on first use.
func (h *msgHandle) userdata(L *lua.LState) *lua.LUserData {
	if h.ud == nil {
		h.valid.Store(true)
		h.ud = L.NewUserData()
		h.ud.Value = h
		L.SetMetatable(h.ud, msgMetatable(L))
	}
	return h.ud
}

// msgMetatable is built once per state.
func msgMetatable(L *lua.LState) lua.LValue {
	if mt, ok := L.GetTypeMetatable(msgType).(*lua.LTable); ok {
		return mt
	}
	mt := L.NewTypeMetatable(msgType)
	methods := L.SetFuncs(L.NewTable(), msgMethods)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int { return msgIndex(L, methods) }))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		checkMsg(L, false)
		L.RaiseError("message fields are read-only; use msg:set_sender() and friends")
		return 0
	}))
	mt.RawSetString("__metatable", lua.LString("message"))
	return mt
}

// checkMsg returns the live handle at argument 1; mutate refuses the
// read-only data view.
func checkMsg(L *lua.LState, mutate bool) *msgHandle {
	h, ok := L.CheckUserData(1).Value.(*msgHandle)
	if !ok {
		L.ArgError(1, "message expected")
	}
	if !h.valid.Load() {
		L.RaiseError("message handle used after its hook returned")
	}
	if mutate && h.readOnly {
		L.RaiseError("message is read-only in this hook")
	}
	return h
}

func msgIndex(L *lua.LState, methods *lua.LTable) int {
	h := checkMsg(L, false)
	key := L.CheckString(2)
	switch key {
	case "id":
		L.Push(lua.LString(h.env.ID))
	case "sender":
		L.Push(lua.LString(h.env.Sender))
	case "size":
		L.Push(lua.LNumber(h.env.Size))
	case "client":
		if h.client == nil {
			h.client = clientTable(L, h.env.Client)
		}
		L.Push(h.client)
	case "auth":
		L.Push(authTable(L, h.auth))
	case "tenant":
		L.Push(tenantValue(h.env.Tenant))
	default:
		// Mutators are found on the read-only view too; they raise
		// "read-only" when called, which says more than a nil would.
		L.Push(methods.RawGetString(key))
	}
	return 1
}

func clientTable(L *lua.LState, c queue.Client) *lua.LTable {
	t := L.CreateTable(0, 5)
	t.RawSetString("name", lua.LString(c.Name))
	t.RawSetString("addr", lua.LString(c.Addr))
	t.RawSetString("helo", lua.LString(c.Helo))
	t.RawSetString("proto", lua.LString(c.Proto))
	t.RawSetString("auth_user", lua.LString(c.AuthUser))
	return t
}

var msgMethods = map[string]lua.LGFunction{
	"header": func(L *lua.LState) int {
		h := checkMsg(L, false)
		if v := h.hdr.Values(L.CheckString(2)); len(v) > 0 {
			L.Push(lua.LString(v[0]))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	},
	"headers": func(L *lua.LState) int {
		h := checkMsg(L, false)
		return pushStrings(L, h.hdr.Values(L.CheckString(2)))
	},
	"set_header": func(L *lua.LState) int {
		h := checkMsg(L, true)
		name, value := headerArgs(L)
		h.hdr.Set(name, value)
		return 0
	},
	// add_header puts the field at the top of the header, like Postfix's
	// PREPEND and like a Received: line.
	"add_header": func(L *lua.LState) int {
		h := checkMsg(L, true)
		name, value := headerArgs(L)
		h.hdr.Add(name, value)
		return 0
	},
	"remove_header": func(L *lua.LState) int {
		h := checkMsg(L, true)
		h.hdr.Del(checkHeaderName(L, 2))
		return 0
	},
	"set_sender": func(L *lua.LState) int {
		h := checkMsg(L, true)
		h.env.Sender = checkAddr(L, 2, true)
		return 0
	},
	"recipients": func(L *lua.LState) int {
		h := checkMsg(L, false)
		addrs := make([]string, len(h.env.Recipients))
		for i, r := range h.env.Recipients {
			addrs[i] = r.Addr
		}
		return pushStrings(L, addrs)
	},
	"add_recipient": func(L *lua.LState) int {
		h := checkMsg(L, true)
		addr := checkAddr(L, 2, false)
		if h.findRcpt(addr) < 0 {
			h.env.Recipients = append(h.env.Recipients, queue.Recipient{Addr: addr, State: queue.Pending})
		}
		return 0
	},
	"remove_recipient": func(L *lua.LState) int {
		h := checkMsg(L, true)
		addr := checkAddr(L, 2, false)
		for i := h.findRcpt(addr); i >= 0; i = h.findRcpt(addr) {
			h.env.Recipients = append(h.env.Recipients[:i], h.env.Recipients[i+1:]...)
		}
		return 0
	},
	"redirect": func(L *lua.LState) int {
		h := checkMsg(L, true)
		h.env.Recipients = []queue.Recipient{{Addr: checkAddr(L, 2, false), State: queue.Pending}}
		return 0
	},
	"meta": func(L *lua.LState) int { return getMeta(L, checkMsg(L, false).env.Meta) },
	"set_meta": func(L *lua.LState) int {
		h := checkMsg(L, true)
		if h.env.Meta == nil {
			h.env.Meta = map[string]string{}
		}
		setMeta(L, h.env.Meta)
		return 0
	},
	"set_tenant": msgSetTenant,
	"reject": func(L *lua.LState) int {
		h := checkMsg(L, true)
		h.verdict = rejectArgs(L, 2)
		return 0
	},
	"hold": func(L *lua.LState) int {
		h := checkMsg(L, true)
		h.verdict = &verdict{kind: vHold, reason: L.OptString(2, "held by policy")}
		return 0
	},
	"discard": func(L *lua.LState) int {
		h := checkMsg(L, true)
		h.verdict = &verdict{kind: vDiscard, reason: L.OptString(2, "discarded by policy")}
		return 0
	},
}

func (h *msgHandle) findRcpt(addr string) int {
	for i, r := range h.env.Recipients {
		if strings.EqualFold(r.Addr, addr) {
			return i
		}
	}
	return -1
}

func pushStrings(L *lua.LState, vals []string) int {
	t := L.CreateTable(len(vals), 0)
	for _, v := range vals {
		t.Append(lua.LString(v))
	}
	L.Push(t)
	return 1
}

// headerArgs checks a (name, value) pair. CR, LF and NUL are refused
// outright rather than cleaned: a script passing them is most likely
// copying attacker input, and a header split there is an injection.
// Long values are folded when the queue file is written.
func headerArgs(L *lua.LState) (string, string) {
	name := checkHeaderName(L, 2)
	value := L.CheckString(3)
	if strings.ContainsAny(value, "\r\n\x00") {
		L.RaiseError("header injection refused: CR, LF or NUL in the value of %s", name)
	}
	if len(value) > maxHeaderValue {
		L.RaiseError("header %s: value longer than %d bytes", name, maxHeaderValue)
	}
	return name, value
}

// checkHeaderName enforces RFC 5322 field-name syntax: printable ASCII
// without ':' or space.
func checkHeaderName(L *lua.LState, n int) string {
	name := L.CheckString(n)
	if name == "" || len(name) > 998 {
		L.ArgError(n, "invalid header name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 127 || c == ':' {
			L.ArgError(n, "invalid header name (header injection refused)")
		}
	}
	return name
}

// checkAddr refuses control characters and spaces in an envelope
// address; "" (the null sender) only where allowed.
func checkAddr(L *lua.LState, n int, allowEmpty bool) string {
	addr := strings.TrimSuffix(strings.TrimPrefix(L.CheckString(n), "<"), ">")
	if addr == "" && !allowEmpty {
		L.ArgError(n, "empty address")
	}
	if len(addr) > 512 || strings.ContainsAny(addr, "\r\n\x00 \t<>") {
		L.ArgError(n, "invalid address")
	}
	return addr
}
