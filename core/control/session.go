package control

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luaconv"
)

// maxOutput bounds what one chunk may print, results included.
const maxOutput = 1 << 20

// session is one connection's Lua state. Only the connection's goroutine
// uses it.
type session struct {
	srv *Server
	L   *lua.LState
	out *boundedBuffer
}

func newSession(s *Server) *session {
	sess := &session{srv: s, out: &boundedBuffer{max: maxOutput}}
	sess.L = sess.newState()
	return sess
}

func (sess *session) close() { sess.L.Close() }

// newState builds the session's state: the engine's REPL state (or the
// stdlib-only sandbox), print writing to the session, and the queue and
// config modules.
func (sess *session) newState() *lua.LState {
	var L *lua.LState
	if sess.srv.Hooks != nil {
		L = sess.srv.Hooks.NewState()
	} else {
		L = hooks.NewStandaloneState(hooks.Config{Config: sess.srv.Config, Logger: sess.srv.Log})
	}
	L.SetGlobal("print", L.NewFunction(sess.print))
	L.SetGlobal("pp", L.NewFunction(sess.pp))
	q := newQueueModule(L, sess.srv.Admin)
	L.SetGlobal("queue", q)
	L.PreloadModule("queue", func(L *lua.LState) int { L.Push(q); return 1 })
	cfg, _ := luaconv.ToLua(L, sess.srv.Config).(*lua.LTable)
	if cfg == nil {
		cfg = L.NewTable()
	}
	L.SetGlobal("config", luaconv.ReadOnly(L, cfg, "config"))
	return L
}

// print is Lua's print, to the session's output.
func (sess *session) print(L *lua.LState) int {
	parts := make([]string, L.GetTop())
	for i := range parts {
		v := L.Get(i + 1)
		if _, isTable := v.(*lua.LTable); isTable {
			// At a prompt a table is read, not identified: print it
			// readably, as the REPL does with returned values.
			parts[i] = Pretty(v)
			continue
		}
		parts[i] = L.ToStringMeta(v).String()
	}
	sess.out.WriteString(strings.Join(parts, "\t") + "\n")
	return 0
}

// pp prints its arguments with the pretty-printer.
func (sess *session) pp(L *lua.LState) int {
	for i := 1; i <= L.GetTop(); i++ {
		sess.out.WriteString(Pretty(L.Get(i)) + "\n")
	}
	return 0
}

// eval runs one chunk. An expression is evaluated and its values
// printed; anything else runs as statements. An incomplete chunk gets
// More, not an error.
func (sess *session) eval(ctx context.Context, code, name string, limit time.Duration) Response {
	if name == "" {
		name = "stdin"
	}
	proto, exprErr := compile("return "+code, name)
	if exprErr == nil {
		return sess.run(ctx, proto, limit)
	}
	proto, err := compile(code, name)
	if err == nil {
		return sess.run(ctx, proto, limit)
	}
	if incomplete(exprErr) || incomplete(err) {
		return Response{More: true}
	}
	return Response{Error: strings.TrimSpace(err.Error())}
}

// incomplete reports a syntax error at the end of the chunk, where the
// next line may complete it. An unterminated short string is not one:
// Lua does not continue those on the next line.
func incomplete(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, " at EOF:") && !strings.Contains(msg, "unterminated string")
}

func compile(code, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(code), name)
	if err != nil {
		return nil, err
	}
	return lua.Compile(chunk, name)
}

// run calls the compiled chunk under its deadline, limit.
func (sess *session) run(ctx context.Context, proto *lua.FunctionProto, limit time.Duration) Response {
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	L := sess.L
	sess.out.Reset()
	L.SetContext(cctx)
	L.Push(L.NewFunctionFromProto(proto))
	err := L.PCall(0, lua.MultRet, nil)
	L.RemoveContext()
	var vals []string
	for i := 1; err == nil && i <= L.GetTop(); i++ {
		vals = append(vals, Pretty(L.Get(i)))
	}
	L.SetTop(0)
	if len(vals) > 0 {
		sess.out.WriteString(strings.Join(vals, "\t") + "\n")
	}
	resp := Response{Output: sess.out.String()}
	if err == nil {
		return resp
	}
	if cctx.Err() != nil {
		// gopher-lua does not promise a usable state after a cancelled
		// call: start over rather than keep a half-unwound one.
		sess.L.Close()
		sess.L = sess.newState()
		why := fmt.Sprintf("chunk stopped: it ran longer than %s; the session's variables were reset", limit)
		if ctx.Err() != nil {
			why = "chunk stopped: the daemon is shutting down"
		}
		resp.Error = why
		return resp
	}
	resp.Error = luaError(err)
	return resp
}

// luaError is the error's message with its position, without the Go
// side of the traceback.
func luaError(err error) string {
	var ae *lua.ApiError
	msg := err.Error()
	if errors.As(err, &ae) && ae.Object != nil {
		msg = ae.Object.String()
	}
	msg, _, _ = strings.Cut(msg, "\nstack traceback:")
	return msg
}

// complete lists the names that complete prefix ("queue.ho" gives
// "queue.hold"), looking only through plain tables reachable from the
// globals; it runs no Lua code, so no metamethod can block.
func (sess *session) complete(prefix string) []string {
	cut := strings.LastIndexAny(prefix, ".:")
	base, partial := "", prefix
	if cut >= 0 {
		base, partial = prefix[:cut+1], prefix[cut+1:]
	}
	t := sess.L.G.Global
	for _, part := range strings.FieldsFunc(base, func(r rune) bool { return r == '.' || r == ':' }) {
		v := t.RawGetString(part)
		if b := luaconv.Backing(v); b != nil {
			v = b // config's read-only proxy
		}
		next, ok := v.(*lua.LTable)
		if !ok {
			return nil
		}
		t = next
	}
	var out []string
	t.ForEach(func(k, _ lua.LValue) {
		if ks, ok := k.(lua.LString); ok && strings.HasPrefix(string(ks), partial) && !strings.HasPrefix(string(ks), "_") {
			out = append(out, base+string(ks))
		}
	})
	sort.Strings(out)
	return out
}

// boundedBuffer keeps the first max bytes written and notes the rest.
type boundedBuffer struct {
	strings.Builder
	max     int
	dropped bool
}

func (b *boundedBuffer) WriteString(s string) {
	if room := b.max - b.Len(); len(s) > room {
		s, b.dropped = s[:max(room, 0)], true
	}
	b.Builder.WriteString(s)
}

func (b *boundedBuffer) String() string {
	if b.dropped {
		return b.Builder.String() + "\n... (output truncated)\n"
	}
	return b.Builder.String()
}

func (b *boundedBuffer) Reset() { b.Builder.Reset(); b.dropped = false }

func quote(s string) string { return fmt.Sprintf("%q", s) }
