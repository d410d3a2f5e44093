package hooks

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/stdlib/kv"
	"github.com/moonpost/moonpost/stdlib/lookup"
)

// ErrNoScripts is what hooks.call raises in a standalone state.
const ErrNoScripts = "hooks: no scripts loaded"

// NewStandaloneState returns a sandboxed state with the same libraries
// and stdlib modules as the engine's states, for a daemon that runs
// without scripts (the REPL's fallback). Its "hooks" table reports that
// no scripts are loaded: hooks.call raises ErrNoScripts,
// hooks.generation() is 0 and hooks.errors() is empty. kv is private to
// the state. cfg.Dir, where lookup tables are read, may be empty.
func NewStandaloneState(cfg Config) *lua.LState {
	cfg.setDefaults()
	tables := cfg.Dir
	if tables == "" {
		// Not the working directory: with no folder, no table is readable.
		tables = "/nonexistent/moonpost-no-tables"
	}
	e := &Engine{cfg: cfg, log: cfg.Logger.With("component", "hooks"),
		kv: kv.New(kv.Limits{MaxKeys: cfg.KVMaxKeys, MaxBytes: cfg.KVMaxBytes}, nil), tables: lookup.NewRegistry(tables, cfg.TableDirs)}
	L := e.newSandbox(0, nil)
	L.SetGlobal("hooks", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"call":       func(L *lua.LState) int { L.RaiseError("%s", ErrNoScripts); return 0 },
		"generation": func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 },
		"errors":     func(L *lua.LState) int { L.Push(L.NewTable()); return 1 },
	}))
	return L
}
