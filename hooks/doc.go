// Package hooks runs the operator's Lua scripts for the engine: it loads
// a scripts folder into a generation, keeps a pool of Lua states per
// generation, and implements the policy interfaces (SMTP phases,
// authentication, cleanup, rewriting, aliases, transport selection,
// delivery events) by calling the handlers scripts registered with
// mta.on.
//
// Reads: every *.lua file in Config.Dir (not *_test.lua), in file-name
// order, or in Config.FS (the embedded default policy, read in place);
// lookup table files through the "lookup" module.
// Writes: nothing but log records.
//
// Generations. A reload (fsnotify on the folder, debounced, or Reload)
// compiles every script once, loads them into a first state, runs the
// selftests, and only then swaps the generation in atomically. A reload
// that fails anywhere leaves the running generation in place; the error
// (file:line: message) is logged and kept for LastError and Errors.
// Calls hold the generation they started on until they return.
//
// Calls. Each call takes an idle state from the pool (or builds one),
// sets a context with Config.CallTimeout, calls the handlers in order
// until one decides, and clears the stack. A state in which a Lua error
// or timeout happened is closed, not pooled. Scripts run in a sandbox:
// no io, no os beyond the clock, no debug, no file loading; require
// finds only the stdlib modules.
//
// Bounds. The deadline holds inside library functions too: the pattern
// functions run on luapat, which polls the context; table.sort and
// table.concat poll it; every way to build a string (the .. operator,
// compiled into a checked call, string.rep/format/gsub, table.concat) is
// bounded by Config.MaxString; the memory watch cancels a call once the
// heap has grown by Config.MemoryLimit since it began (memory.go).
//
// Failure. Any Lua error, timeout or undecodable return value makes the
// method return a *HookError, logged with the event, handler position,
// generation and queue ID (at most one line per Config.ErrorLogInterval
// and event); the caller fails the message temporarily (451 4.3.0 or a
// deferral). Nothing is accepted because a script broke. An event whose
// calls keep failing opens its circuit breaker (breaker.go) and is
// answered without running Lua until a probe call succeeds.
package hooks
