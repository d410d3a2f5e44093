package control

import (
	"context"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/admin"
)

// shapingCommand runs the CLI's queue suspend, resume, suspensions and
// destinations through the Admin, as the REPL's functions do.
func (s *Server) shapingCommand(ctx context.Context, req *Request) (any, error) {
	switch req.Action {
	case "suspend":
		return s.Admin.Suspend(ctx, admin.SuspendSpec{Site: req.Site, Domain: req.Domain, For: req.For, Reason: req.Text})
	case "resume":
		return s.Admin.Resume(ctx, req.Site, req.Domain)
	case "suspensions":
		return s.Admin.Suspensions(ctx)
	}
	return s.Admin.Destinations(ctx)
}

// addShaping puts the shaping functions in the REPL's queue table:
// queue.suspend{site=|domain=, for_=, reason=}, queue.resume{site=|
// domain=}, queue.suspensions(), queue.destinations(). "for_" is
// spelled so because "for" is a Lua keyword ("for" works too, quoted).
func (q *queueModule) addShaping(L *lua.LState, t *lua.LTable) {
	t.RawSetString("suspend", L.NewFunction(q.suspend))
	t.RawSetString("resume", L.NewFunction(q.resume))
	t.RawSetString("suspensions", L.NewFunction(func(L *lua.LState) int {
		list, err := q.a.Suspensions(ctxOf(L))
		return push(L, list, err)
	}))
	t.RawSetString("destinations", L.NewFunction(func(L *lua.LState) int {
		list, err := q.a.Destinations(ctxOf(L))
		return push(L, list, err)
	}))
}

func (q *queueModule) suspend(L *lua.LState) int {
	var spec admin.SuspendSpec
	strictTable(L, map[string]*string{"site": &spec.Site, "domain": &spec.Domain, "for_": &spec.For, "for": &spec.For,
		"reason": &spec.Reason})
	if spec.For == "" {
		L.ArgError(1, "for_ is required (a duration such as \"1h\")")
	}
	s, err := q.a.Suspend(ctxOf(L), spec)
	return push(L, s, err)
}

func (q *queueModule) resume(L *lua.LState) int {
	var site, domain string
	strictTable(L, map[string]*string{"site": &site, "domain": &domain})
	r, err := q.a.Resume(ctxOf(L), site, domain)
	return push(L, r, err)
}

// strictTable reads argument 1, a table of string fields, into fields;
// an unknown key or a value that is not a string is an argument error.
func strictTable(L *lua.LState, fields map[string]*string) {
	t := L.CheckTable(1)
	t.ForEach(func(k, v lua.LValue) {
		ks, _ := k.(lua.LString)
		dst := fields[string(ks)]
		if dst == nil {
			L.ArgError(1, "unknown key "+k.String())
		}
		s, ok := v.(lua.LString)
		if !ok {
			L.ArgError(1, k.String()+" must be a string")
		}
		*dst = string(s)
	})
}
