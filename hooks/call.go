package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// HookError is a failed hook call: a Lua error, a timeout, or a return
// value that does not decode. The engine fails the message temporarily.
type HookError struct {
	Event      string // "rcpt", "cleanup", ...
	Where      string // handler position, "20-route.lua:12"
	Generation int
	QueueID    string // "" when not known yet (SMTP phase)
	Msg        string // Lua message with its own position, or the decoding problem
	// held is set when the engine held back its log line for this error
	// (one line per interval and event); see Quiet.
	held bool
}

// Quiet reports that the engine did not log this error because it had
// logged one of the same event recently: a caller that logs hook errors
// too can skip it, so a failing hook costs one line per interval, not
// one per call.
func (e *HookError) Quiet() bool { return e.held }

func (e *HookError) Error() string {
	return fmt.Sprintf("hooks: %s handler at %s (generation %d): %s", e.Event, e.Where, e.Generation, e.Msg)
}

// call describes one hook invocation for invoke. Its functions do not
// refer to the call itself, which can then stay on the caller's stack.
type call struct {
	event   string
	queueID string
	// args builds the handler arguments once, in the state that runs
	// them, appending them to buf: the state's own, with room for a few.
	args func(L *lua.LState, buf []lua.LValue) []lua.LValue
	// decide looks at one handler's return value (nil included) and says
	// whether it ends the chain, and if so what was decided, in a few
	// words for the log. An error is a decoding failure.
	decide func(L *lua.LState, ret lua.LValue, where string) (stop bool, outcome string, err error)
	// outcome is a short description of the decision, for the log.
	outcome string
	// br is the event's breaker in the generation the call runs on; its
	// log limiter paces the call's error line.
	br *breaker
}

// Handles reports whether the live scripts have handlers for event
// (policy.Selective). Entry points ask first where they would otherwise
// build what only handlers use (a copy of the header, the closures of a
// call) for an event the scripts leave alone; invoke asks again of the
// generation it runs on, so a reload in between is no different from one
// just after.
func (e *Engine) Handles(event string) bool {
	return e.cur.Load().counts[event] > 0
}

// invoke runs the handlers of c.event on the live generation, in order,
// until one decides. It returns the generation used. The state is
// returned to the pool only if no Lua error or timeout happened in it.
func (e *Engine) invoke(ctx context.Context, c *call) (gen int, err error) {
	g := e.cur.Load()
	if g.counts[c.event] == 0 {
		return g.n, nil
	}
	c.br = g.breakers[c.event]
	ok, probe := c.br.allow(e.clock())
	if !ok {
		g.stats[c.event].skipped.Add(1)
		return g.n, e.shortCircuit(c, g.n)
	}
	stats, start := g.stats[c.event], time.Now()
	e.busy.Add(1)
	defer func() { e.busy.Add(-1); stats.done(start, err) }()
	// Registered first, so it runs last and sees the final err.
	defer func() { e.settle(c, g.n, probe, err != nil) }()
	st, err := g.get()
	if err != nil {
		return g.n, e.fail(c, g.n, "(load)", err.Error())
	}
	if st.ctx == nil {
		st.ctx = newCallCtx()
	}
	cctx := st.ctx
	cctx.begin(ctx, start, e.cfg.CallTimeout)
	e.mem.track(cctx)
	broken := true // until the handlers ran without a Lua error
	defer func() {
		if r := recover(); r != nil {
			broken = true
			err = e.fail(c, g.n, "(engine)", fmt.Sprint("panic: ", r))
		}
		e.mem.untrack(cctx)
		if cctx.end() {
			st.ctx = nil
		}
		st.L.RemoveContext()
		st.L.SetTop(0)
		clear(st.argv[:])
		if broken {
			st.L.Close()
		} else {
			g.put(st)
		}
	}()
	st.L.SetContext(cctx)
	where, herr, luaFailed := e.runHandlers(cctx, st, c)
	broken = luaFailed
	if herr != nil {
		return g.n, e.fail(c, g.n, where, herr.Error())
	}
	// Checked first: the arguments would be boxed even when debug
	// records are dropped. Debug itself asks with a background context.
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("hook decided", "event", c.event, "generation", g.n, "handler", where,
			"queue_id", c.queueID, "result", c.outcome, "duration", time.Since(start))
	}
	return g.n, nil
}

// runHandlers calls each handler until one decides. luaFailed reports a
// Lua-level failure, after which the state must not be reused.
func (e *Engine) runHandlers(ctx *callCtx, st *state, c *call) (where string, err error, luaFailed bool) {
	L := st.L
	args := c.args(L, st.argv[:0])
	for _, h := range st.handlers[c.event] {
		where = h.where
		L.Push(h.fn)
		pushArgs(L, args, h.lastFirst)
		if perr := L.PCall(len(args), 1, nil); perr != nil {
			return where, errors.New(e.describeLuaErr(ctx, perr)), true
		}
		ret := L.Get(-1)
		L.Pop(1)
		stop, outcome, derr := c.decide(L, ret, where)
		if derr != nil {
			return where, derr, false
		}
		if stop {
			c.outcome = outcome
			return where, nil, false
		}
	}
	if c.outcome == "" {
		c.outcome = "no decision"
	}
	return "", nil, false
}

// pushArgs pushes a handler's arguments, the first one last when
// lastFirst is set.
func pushArgs(L *lua.LState, args []lua.LValue, lastFirst bool) {
	if lastFirst && len(args) > 1 {
		for _, a := range args[1:] {
			L.Push(a)
		}
		L.Push(args[0])
		return
	}
	for _, a := range args {
		L.Push(a)
	}
}

// describeLuaErr turns a PCall error into a log-worthy line, naming a
// timeout or the memory watchdog when that is what stopped the call.
func (e *Engine) describeLuaErr(ctx *callCtx, err error) string {
	text := luaErrText(err)
	switch cause := ctx.Cause(); {
	case cause == errMemory:
		return "memory limit exceeded: " + text
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s: %s", e.cfg.CallTimeout, text)
	}
	return text
}

// fail logs a failed call, at most one line per ErrorLogInterval and
// event (the next line counts the ones held back), and builds its error.
func (e *Engine) fail(c *call, gen int, where, msg string) error {
	herr := &HookError{Event: c.event, Where: where, Generation: gen, QueueID: c.queueID, Msg: msg}
	suppressed := 0
	if c.br != nil {
		var ok bool
		if ok, suppressed = c.br.log.allow(e.clock()); !ok {
			herr.held = true
			return herr
		}
	}
	e.log.LogAttrs(context.Background(), slog.LevelError, "hook failed",
		slog.String("event", c.event), slog.String("handler", where),
		slog.Int("generation", gen), slog.String("queue_id", c.queueID),
		slog.String("error", msg), slog.Int("suppressed", suppressed))
	return herr
}
