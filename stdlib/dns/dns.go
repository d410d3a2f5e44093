package dns

import (
	"context"
	"errors"
	"net"

	lua "github.com/yuin/gopher-lua"
)

// MX is one mail exchanger.
type MX struct {
	Host string // target host name, without the trailing dot
	Pref uint16 // preference: lower is tried first
}

// Resolver is what the module needs from the daemon's DNS. Methods must
// honour ctx and return ErrNotFound (or a *net.DNSError with IsNotFound)
// for names that do not exist, and any other error for failures.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) ([]MX, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ErrNotFound reports a name or record that does not exist.
var ErrNotFound = errors.New("dns: not found")

// ErrNoResolver is returned when the daemon configured no resolver.
var ErrNoResolver = errors.New("dns: no resolver configured")

// Module binds the Lua module to a resolver.
type Module struct {
	Resolver Resolver // nil: every look-up fails with ErrNoResolver
}

// Loader is the lua.LGFunction for PreloadModule("dns", m.Loader).
func (m *Module) Loader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"mx":  m.mx,
		"a":   m.host,
		"txt": m.txt,
	}))
	return 1
}

func (m *Module) mx(L *lua.LState) int {
	name := L.CheckString(1)
	var recs []MX
	err := m.do(L, func(ctx context.Context, r Resolver) (err error) {
		recs, err = r.LookupMX(ctx, name)
		return err
	})
	if err != nil {
		return pushErr(L, err)
	}
	t := L.CreateTable(len(recs), 0)
	for _, mx := range recs {
		e := L.CreateTable(0, 2)
		e.RawSetString("host", lua.LString(mx.Host))
		e.RawSetString("pref", lua.LNumber(mx.Pref))
		t.Append(e)
	}
	L.Push(t)
	return 1
}

func (m *Module) host(L *lua.LState) int {
	name := L.CheckString(1)
	var addrs []string
	err := m.do(L, func(ctx context.Context, r Resolver) (err error) {
		addrs, err = r.LookupHost(ctx, name)
		return err
	})
	return pushList(L, addrs, err)
}

func (m *Module) txt(L *lua.LState) int {
	name := L.CheckString(1)
	var txts []string
	err := m.do(L, func(ctx context.Context, r Resolver) (err error) {
		txts, err = r.LookupTXT(ctx, name)
		return err
	})
	return pushList(L, txts, err)
}

// do runs one look-up under the state's context; a state without one (a
// REPL line) still gets a background context so the call cannot hang on a
// nil context.
func (m *Module) do(L *lua.LState, f func(context.Context, Resolver) error) error {
	if m.Resolver == nil {
		return ErrNoResolver
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	err := f(ctx, m.Resolver)
	if isNotFound(err) {
		return errNotFound
	}
	return err
}

// errNotFound marks "empty answer" inside the module.
var errNotFound = errors.New("not found")

func isNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func pushList(L *lua.LState, vals []string, err error) int {
	if err != nil {
		return pushErr(L, err)
	}
	t := L.CreateTable(len(vals), 0)
	for _, v := range vals {
		t.Append(lua.LString(v))
	}
	L.Push(t)
	return 1
}

func pushErr(L *lua.LState, err error) int {
	if err == errNotFound {
		L.Push(L.NewTable())
		return 1
	}
	L.Push(lua.LNil)
	L.Push(lua.LString(err.Error()))
	return 2
}
