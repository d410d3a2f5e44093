package hooks

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/hooks/luaconv"
	"github.com/moonpost/moonpost/stdlib/address"
	"github.com/moonpost/moonpost/stdlib/config"
	"github.com/moonpost/moonpost/stdlib/dns"
	"github.com/moonpost/moonpost/stdlib/dnsbl"
	"github.com/moonpost/moonpost/stdlib/greylist"
	"github.com/moonpost/moonpost/stdlib/json"
	stdlog "github.com/moonpost/moonpost/stdlib/log"
	stdredis "github.com/moonpost/moonpost/stdlib/redis"
	"github.com/moonpost/moonpost/stdlib/regex"
	stdsql "github.com/moonpost/moonpost/stdlib/sql"
	stdthrottle "github.com/moonpost/moonpost/stdlib/throttle"
	stdtime "github.com/moonpost/moonpost/stdlib/time"
)

// removedGlobals are base functions scripts must not have: file access
// (dofile, loadfile), a full GC on demand (collectgarbage: a cheap way
// to stall the daemon) and gopher-lua's register dump.
var removedGlobals = []string{"dofile", "loadfile", "collectgarbage", "_printregs", "module"}

// newSandbox builds a state with only the safe libraries and the stdlib
// modules. st is the generation state the mta module registers into; nil
// for REPL and test states, where mta.on is refused.
func (e *Engine) newSandbox(gen int, st *state) *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   e.cfg.CallStackSize,
		RegistrySize:    1024 * 8,
		RegistryMaxSize: e.cfg.RegistryMaxSize,
		// A growable stack costs a third of the per-call time in the
		// benchmark; the fixed one is bounded by CallStackSize anyway.
		MinimizeStackMemory: false,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	logMod := &stdlog.Module{Logger: e.log, Generation: gen}
	e.restrict(L, logMod)
	e.preload(L, logMod, st)
	return L
}

// restrict removes or replaces everything that reaches outside the state.
func (e *Engine) restrict(L *lua.LState, logMod *stdlog.Module) {
	for _, name := range removedGlobals {
		L.SetGlobal(name, lua.LNil)
	}
	L.SetGlobal("print", L.NewFunction(logMod.Print))
	// require finds only preloaded modules: no search path, and the file
	// loader (the second of package.loaders) removed from the table
	// require actually consults.
	pkg := L.GetGlobal("package").(*lua.LTable)
	pkg.RawSetString("path", lua.LString(""))
	pkg.RawSetString("cpath", lua.LString(""))
	if loaders, ok := L.GetField(L.Get(lua.RegistryIndex), "_LOADERS").(*lua.LTable); ok {
		for loaders.Len() > 1 {
			loaders.Remove(loaders.Len())
		}
	}
	// Scripts share one string metatable per state; hiding it stops a
	// script from breaking s:match() for every later call in that state.
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__metatable", lua.LString("string"))
	}
	e.boundBuiltins(L)
	installReadOnlyIteration(L)
	installOS(L)
}

// installOS gives the clock and date functions of os, nothing else.
func installOS(L *lua.LState) {
	L.Push(L.NewFunction(lua.OpenOs))
	L.Push(lua.LString(lua.OsLibName))
	L.Call(1, 1)
	full := L.Get(-1).(*lua.LTable)
	L.Pop(1)
	safe := L.NewTable()
	for _, name := range []string{"time", "date", "clock", "difftime"} {
		safe.RawSetString(name, full.RawGetString(name))
	}
	L.SetGlobal("os", safe)
	// OpenOs also registered the full library for require("os").
	if loaded, ok := L.GetField(L.Get(lua.RegistryIndex), "_LOADED").(*lua.LTable); ok {
		loaded.RawSetString(lua.OsLibName, safe)
	}
}

// installReadOnlyIteration makes pairs and ipairs see through the
// read-only proxies of luaconv.ReadOnly (Lua 5.1 has no __pairs).
func installReadOnlyIteration(L *lua.LState) {
	for _, name := range []string{"pairs", "ipairs"} {
		orig := L.GetGlobal(name)
		L.SetGlobal(name, L.NewFunction(func(L *lua.LState) int {
			arg := L.Get(1)
			if b := luaconv.Backing(arg); b != nil {
				arg = b
			}
			L.Push(orig)
			L.Push(arg)
			L.Call(1, 3)
			return 3
		}))
	}
}

// preload registers the stdlib modules and the mta global.
func (e *Engine) preload(L *lua.LState, logMod *stdlog.Module, st *state) {
	L.PreloadModule("address", address.Loader)
	L.PreloadModule("regex", regex.Loader)
	L.PreloadModule("json", json.Loader)
	L.PreloadModule("time", stdtime.Loader)
	L.PreloadModule("log", logMod.Loader)
	L.PreloadModule("dns", (&dns.Module{Resolver: e.cfg.Resolver}).Loader)
	L.PreloadModule("dnsbl", (&dnsbl.Module{Resolver: e.cfg.Resolver}).Loader)
	L.PreloadModule("greylist", greylist.Loader)
	L.PreloadModule("kv", e.kv.Loader)
	L.PreloadModule("lookup", e.tables.Loader)
	L.PreloadModule("config", config.Loader(e.cfg.Config))
	L.PreloadModule("throttle", stdthrottle.Loader(e.cfg.Throttle))
	L.PreloadModule("redis", stdredis.Loader(e.cfg.Redis))
	L.PreloadModule("sql", stdsql.Loader(e.cfg.SQL))
	mta := newMTAModule(L, st)
	mta.RawSetString("domain_class", L.NewFunction(newDomainClasses(e.cfg.Config).luaDomainClass))
	L.PreloadModule("mta", func(L *lua.LState) int { L.Push(mta); return 1 })
	L.SetGlobal("mta", mta)
}
