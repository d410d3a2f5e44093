package dnsbl

import (
	"context"
	"net/netip"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// maxSites bounds the sites of one check.
const maxSites = 32

// Module binds the Lua module to a resolver.
type Module struct {
	Resolver Resolver // nil: every check fails
}

// Loader is the lua.LGFunction for PreloadModule("dnsbl", m.Loader).
func (m *Module) Loader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"check":   m.check,
		"reverse": reverse,
	}))
	return 1
}

func reverse(L *lua.LState) int {
	ip, err := netip.ParseAddr(L.CheckString(1))
	if err != nil {
		L.ArgError(1, "not an IP address")
	}
	L.Push(lua.LString(Reverse(ip)))
	return 1
}

// check(ip, sites) returns {score=, hits={{site=, addr=, weight=}},
// errors={{site=, error=}}}; a bad address or site is a Lua error, a
// missing resolver gives nil and a message.
func (m *Module) check(L *lua.LState) int {
	ip, err := netip.ParseAddr(L.CheckString(1))
	if err != nil {
		L.ArgError(1, "not an IP address")
	}
	sites := checkSites(L, L.CheckTable(2))
	if m.Resolver == nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("dnsbl: no resolver configured"))
		return 2
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	L.Push(resultTable(L, Check(ctx, m.Resolver, ip, sites)))
	return 1
}

func checkSites(L *lua.LState, t *lua.LTable) []Site {
	n := t.Len()
	if n == 0 || n > maxSites {
		L.ArgError(2, "want 1 to 32 sites")
	}
	sites := make([]Site, 0, n)
	for i := 1; i <= n; i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			L.ArgError(2, "sites must be strings")
		}
		site, err := ParseSite(string(s))
		if err != nil {
			L.ArgError(2, err.Error())
		}
		sites = append(sites, site)
	}
	return sites
}

func resultTable(L *lua.LState, r Result) *lua.LTable {
	t := L.CreateTable(0, 3)
	t.RawSetString("score", lua.LNumber(r.Score))
	hits := L.CreateTable(len(r.Hits), 0)
	for _, h := range r.Hits {
		e := L.CreateTable(0, 3)
		e.RawSetString("site", lua.LString(h.Site))
		e.RawSetString("addr", lua.LString(h.Addr))
		e.RawSetString("weight", lua.LNumber(h.Weight))
		hits.Append(e)
	}
	t.RawSetString("hits", hits)
	errs := L.CreateTable(len(r.Errors), 0)
	names := make([]string, 0, len(r.Errors))
	for name := range r.Errors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := L.CreateTable(0, 2)
		e.RawSetString("site", lua.LString(name))
		e.RawSetString("error", lua.LString(r.Errors[name].Error()))
		errs.Append(e)
	}
	t.RawSetString("errors", errs)
	return t
}
