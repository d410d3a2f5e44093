package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// script is one compiled file. The prototype is immutable and shared by
// every state of the generation.
type script struct {
	name  string // file name, as it appears in Lua error positions
	proto *lua.FunctionProto
}

// generation is one loaded set of scripts and its pool of states.
type generation struct {
	eng      *Engine
	n        int
	loadedAt time.Time
	scripts  []script
	// counts is the number of handlers per event, the same in every
	// state (loading is deterministic); events without one skip the pool.
	counts map[string]int
	// breakers has one per event in counts; the map is not changed
	// after build.
	breakers map[string]*breaker
	// warnings name the handlers written for an old calling convention
	// ("file.lua:3: ..."), found while loading; see Engine.Warnings.
	warnings []string
	stats    map[string]*eventStats // calls by event, keys as counts (stats.go)
	pool     chan *state            // idle states; see get and put
}

// state is one Lua state loaded with a generation's scripts. It is used
// by one goroutine at a time.
type state struct {
	L         *lua.LState
	gen       *generation
	handlers  map[string][]handler // event → handlers, file then registration order
	selftests []*lua.LFunction
	loading   bool          // mta.on and mta.selftest are allowed only while loading
	ctx       *callCtx      // what its calls run under; nil until the first or once spent
	argv      [4]lua.LValue // a call's handler arguments, built in place
}

// handler is one function registered with mta.on and where it was
// defined, "file.lua:12", worked out once when the state is loaded
// rather than on every call that names it.
type handler struct {
	fn    *lua.LFunction
	where string
	// lastFirst passes the first argument last: an "auth" handler
	// written for the old order (user, pass, s); see authOldOrder.
	lastFirst bool
}

// compileDir parses and compiles every script in dir, in file-name order.
func compileDir(dir string) ([]script, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	var names []string
	for _, ent := range entries {
		n := ent.Name()
		if ent.Type().IsRegular() && strings.HasSuffix(n, ".lua") && !strings.HasSuffix(n, "_test.lua") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	scripts := make([]script, 0, len(names))
	for _, n := range names {
		proto, err := compileFile(filepath.Join(dir, n), n)
		if err != nil {
			return nil, err
		}
		scripts = append(scripts, script{name: n, proto: proto})
	}
	return scripts, nil
}

// compileFile compiles one file; name is the chunk name used in errors.
func compileFile(path, name string) (*lua.FunctionProto, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	defer f.Close()
	return Compile(f, name)
}

// syntaxError reformats the parser's message as "file.lua:LINE: ...",
// the shape of every other script error.
func syntaxError(name string, err error) error {
	var pe *parse.Error
	if errors.As(err, &pe) {
		if pe.Pos.Line == parse.EOF {
			return fmt.Errorf("%s: syntax error at end of file: %s", name, pe.Message)
		}
		return fmt.Errorf("%s:%d: syntax error near '%s': %s", name, pe.Pos.Line, pe.Token, pe.Message)
	}
	return fmt.Errorf("%s: syntax error: %v", name, strings.TrimSpace(err.Error()))
}

// build compiles and loads the scripts into a first state and runs the
// selftests there. Only a generation that passed all of it is returned.
func (e *Engine) build(n int) (*generation, error) {
	scripts, err := e.compile()
	if err != nil {
		return nil, err
	}
	g := &generation{eng: e, n: n, loadedAt: time.Now(), scripts: scripts,
		pool: make(chan *state, e.cfg.PoolSize)}
	st, err := g.newState()
	if err != nil {
		return nil, err
	}
	if err := st.runSelftests(); err != nil {
		st.L.Close()
		return nil, err
	}
	g.counts = map[string]int{}
	for ev, hs := range st.handlers {
		g.counts[ev] = len(hs)
	}
	g.warnings = oldOrderWarnings(st.handlers)
	g.breakers = e.newBreakers(g.counts)
	g.stats = newEventStats(g.counts)
	g.put(st)
	return g, nil
}

// newState builds a sandboxed state and runs every script in it.
func (g *generation) newState() (*state, error) {
	st := &state{gen: g, handlers: map[string][]handler{}, loading: true}
	st.L = g.eng.newSandbox(g.n, st)
	ctx, cancel := context.WithTimeout(context.Background(), g.eng.cfg.LoadTimeout)
	defer cancel()
	st.L.SetContext(ctx)
	defer st.L.RemoveContext()
	for _, s := range g.scripts {
		st.L.Push(st.L.NewFunctionFromProto(s.proto))
		if err := st.L.PCall(0, 0, nil); err != nil {
			st.L.Close()
			return nil, fmt.Errorf("%s: load failed: %s", s.name, luaErrText(err))
		}
	}
	st.loading = false
	return st, nil
}

// runSelftests calls every mta.selftest function; one that raises or
// returns false rejects the generation.
func (st *state) runSelftests() error {
	ctx, cancel := context.WithTimeout(context.Background(), st.gen.eng.cfg.LoadTimeout)
	defer cancel()
	st.L.SetContext(ctx)
	defer st.L.RemoveContext()
	for _, fn := range st.selftests {
		where := funcPos(fn)
		st.L.Push(fn)
		if err := st.L.PCall(0, 1, nil); err != nil {
			return fmt.Errorf("selftest at %s failed: %s", where, luaErrText(err))
		}
		ret := st.L.Get(-1)
		st.L.Pop(1)
		if ret == lua.LFalse {
			return fmt.Errorf("selftest at %s returned false", where)
		}
	}
	st.L.SetTop(0)
	return nil
}

// get takes an idle state or builds a new one. Building can only fail if
// a script behaves differently from the validated load (it reads a table
// that broke since, say); the call then fails temporarily.
func (g *generation) get() (*state, error) {
	select {
	case st := <-g.pool:
		return st, nil
	default:
		return g.newState()
	}
}

// put returns a healthy state to the pool, or closes it when the pool is
// full. A retired generation's pool is garbage once its last call
// returns, so no draining is needed.
func (g *generation) put(st *state) {
	select {
	case g.pool <- st:
	default:
		st.L.Close()
	}
}

// funcPos names where a Lua function was defined, "file.lua:12".
func funcPos(fn *lua.LFunction) string {
	if fn.Proto == nil {
		return "(go)"
	}
	return fmt.Sprintf("%s:%d", fn.Proto.SourceName, fn.Proto.LineDefined)
}

// luaErrText is the first line of a Lua error: its position and message
// without the stack traceback, which goes to debug logs only.
func luaErrText(err error) string {
	if ae, ok := err.(*lua.ApiError); ok && ae.Object != nil {
		s := ae.Object.String()
		if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	s := err.Error()
	if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
		s = s[:i]
	}
	return s
}
