package hooks

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/policy"
)

// The message handle's authentication side: msg.auth (what inbound
// checks found) and msg:dkim_sign{...} (which signatures cleanup makes).

func init() {
	msgMethods["dkim_sign"] = msgDKIMSign
}

// msgDKIMSign is msg:dkim_sign{domain=, selector=, key=}: sign with this
// key (in addition to earlier calls in the same hook run). The first call
// replaces the default choice; msg:dkim_sign(false) signs nothing.
// selector and key may be left out to use the [[dkim.sign]] entries of
// the domain. Unknown fields are an error.
func msgDKIMSign(L *lua.LState) int {
	h := checkMsg(L, true)
	if h.dkim == nil {
		h.dkim = &policy.DKIMChoice{Requests: []policy.SignRequest{}}
	}
	if L.Get(2) == lua.LFalse {
		h.dkim.Requests = h.dkim.Requests[:0]
		return 0
	}
	t := L.CheckTable(2)
	var r policy.SignRequest
	t.ForEach(func(k, v lua.LValue) {
		ks, ok := k.(lua.LString)
		vs, okv := v.(lua.LString)
		if !ok || !okv {
			L.ArgError(2, fmt.Sprintf("dkim_sign: field %s must be a string", k))
		}
		switch string(ks) {
		case "domain":
			r.Domain = string(vs)
		case "selector":
			r.Selector = string(vs)
		case "key":
			r.Key = string(vs)
		default:
			L.ArgError(2, fmt.Sprintf("dkim_sign: unknown field %q (domain, selector, key)", string(ks)))
		}
	})
	if r.Domain == "" {
		L.ArgError(2, "dkim_sign: domain is required")
	}
	if r.Key != "" && r.Selector == "" {
		L.ArgError(2, "dkim_sign: a key needs its selector")
	}
	if len(h.dkim.Requests) >= 8 {
		L.RaiseError("dkim_sign: at most 8 signatures per message")
	}
	h.dkim.Requests = append(h.dkim.Requests, r)
	return 0
}

// authTable is msg.auth: nil when the message was not checked, else
// {spf=, dkim={{domain=, selector=, result=}...},
// dmarc={result=, policy=, disposition=, domain=}, arc=, arc_sealers={...}}.
func authTable(L *lua.LState, a *policy.AuthResults) lua.LValue {
	if a == nil {
		return lua.LNil
	}
	t := L.CreateTable(0, 4)
	t.RawSetString("spf", lua.LString(a.SPF))
	if a.SPFHelo != "" {
		t.RawSetString("spf_helo", lua.LString(a.SPFHelo))
	}
	dk := L.CreateTable(len(a.DKIM), 0)
	for _, d := range a.DKIM {
		e := L.CreateTable(0, 3)
		e.RawSetString("domain", lua.LString(d.Domain))
		e.RawSetString("selector", lua.LString(d.Selector))
		e.RawSetString("result", lua.LString(d.Result))
		dk.Append(e)
	}
	t.RawSetString("dkim", dk)
	dm := L.CreateTable(0, 4)
	dm.RawSetString("result", lua.LString(a.DMARC.Result))
	dm.RawSetString("policy", lua.LString(a.DMARC.Policy))
	dm.RawSetString("disposition", lua.LString(a.DMARC.Disposition))
	dm.RawSetString("domain", lua.LString(a.DMARC.Domain))
	t.RawSetString("dmarc", dm)
	t.RawSetString("arc", lua.LString(a.ARC))
	sealers := L.CreateTable(len(a.ARCSealers), 0)
	for _, d := range a.ARCSealers {
		sealers.Append(lua.LString(d))
	}
	t.RawSetString("arc_sealers", sealers)
	return t
}
