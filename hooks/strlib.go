package hooks

import (
	"errors"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/hooks/luapat"
)

// The pattern functions of the string library, on luapat: they poll the
// state's context while they match, so a backtracking pattern on text a
// client chose stops at the hook's deadline like any Lua loop, and
// gsub's result is bounded by Config.MaxString while it is built (the
// library gopher-lua ships collects every match first and looks at no
// context). Semantics are Lua 5.1's.

// patternLib holds what the functions need: the size bound.
type patternLib struct{ max int }

func (e *Engine) installPatterns(L *lua.LState, str *lua.LTable) {
	p := &patternLib{max: e.cfg.MaxString}
	str.RawSetString("find", L.NewFunction(p.find))
	str.RawSetString("match", L.NewFunction(p.match))
	str.RawSetString("gmatch", L.NewFunction(p.gmatch))
	str.RawSetString("gsub", L.NewFunction(p.gsub))
}

// poller returns the poll function for L's context: nil (never stop)
// when the state has none.
func poller(L *lua.LState) func() error {
	ctx := L.Context()
	if ctx == nil || ctx.Done() == nil {
		return nil
	}
	done := ctx.Done()
	return func() error {
		select {
		case <-done:
			return ctx.Err()
		default:
			return nil
		}
	}
}

// raise turns a matcher error into a Lua error. A stop reads like the
// VM's own ("context deadline exceeded"), so the call is reported as
// timed out.
func raise(L *lua.LState, fn string, err error) {
	var pe *luapat.Error
	if errors.As(err, &pe) {
		L.RaiseError("%s: %s", fn, pe.Msg)
	}
	L.RaiseError("%s", err.Error())
}

// startIndex converts Lua's init argument (1-based, negative from the
// end) to a byte offset within s.
func startIndex(init, n int) int {
	if init < 0 {
		init = n + init + 1
	}
	init--
	if init < 0 {
		return 0
	}
	return min(init, n)
}

func (p *patternLib) find(L *lua.LState) int  { return p.findAux(L, true) }
func (p *patternLib) match(L *lua.LState) int { return p.findAux(L, false) }

func (p *patternLib) findAux(L *lua.LState, find bool) int {
	s, pat := L.CheckString(1), L.CheckString(2)
	init := startIndex(L.OptInt(3, 1), len(s))
	if find && (lua.LVAsBool(L.Get(4)) || !luapat.HasSpecials(pat)) {
		i := strings.Index(s[init:], pat)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(pat)))
		return 2
	}
	fn := "string.match"
	if find {
		fn = "string.find"
	}
	start, end, caps, ok, err := luapat.New(s, pat, poller(L)).Find(init)
	if err != nil {
		raise(L, fn, err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(start + 1))
		L.Push(lua.LNumber(end))
		return 2 + pushCaptures(L, s, caps)
	}
	if caps == nil {
		L.Push(lua.LString(s[start:end]))
		return 1
	}
	return pushCaptures(L, s, caps)
}

// pushCaptures pushes each capture: its text, or its 1-based position.
func pushCaptures(L *lua.LState, s string, caps []luapat.Capture) int {
	for _, c := range caps {
		L.Push(captureValue(s, c))
	}
	return len(caps)
}

func captureValue(s string, c luapat.Capture) lua.LValue {
	if c.Len == luapat.CapPosition {
		return lua.LNumber(c.Start + 1)
	}
	return lua.LString(s[c.Start : c.Start+c.Len])
}

// gmatch returns an iterator over the matches of pat in s. As in Lua
// 5.1, "^" has no anchoring meaning here, and an empty match moves on
// by one byte.
func (p *patternLib) gmatch(L *lua.LState) int {
	s, pat := L.CheckString(1), L.CheckString(2)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		m := luapat.New(s, pat, poller(L))
		for from := pos; from <= len(s); from++ {
			end, err := m.MatchAt(from, 0)
			if err != nil {
				raise(L, "string.gmatch", err)
			}
			if end < 0 {
				continue
			}
			pos = end
			if end == from {
				pos++
			}
			caps, err := m.Captures()
			if err != nil {
				raise(L, "string.gmatch", err)
			}
			if caps == nil {
				L.Push(lua.LString(s[from:end]))
				return 1
			}
			return pushCaptures(L, s, caps)
		}
		pos = len(s) + 1
		return 0
	}))
	return 1
}

// gsub replaces up to n matches of pat in s by repl (a string with %0-%9,
// a table indexed by the first capture, or a function called with the
// captures) and returns the result and the number of matches.
func (p *patternLib) gsub(L *lua.LState) int {
	s, pat := L.CheckString(1), L.CheckString(2)
	repl := L.CheckAny(3)
	switch repl.Type() {
	case lua.LTString, lua.LTNumber, lua.LTTable, lua.LTFunction:
	default:
		L.ArgError(3, "string/function/table expected, got "+repl.Type().String())
	}
	limit := L.OptInt(4, len(s)+1)
	poll := poller(L)
	g := &gsubRun{L: L, lib: p, src: s, repl: repl, m: luapat.New(s, pat, poll), poll: poll}
	start, anchor := 0, len(pat) > 0 && pat[0] == '^'
	if anchor {
		start = 1
	}
	pos, n := 0, 0
	for n < limit {
		end, err := g.m.MatchAt(pos, start)
		if err != nil {
			raise(L, "string.gsub", err)
		}
		if end >= 0 {
			n++
			g.add(pos, end)
		}
		switch {
		case end > pos:
			pos = end
		case pos < len(s):
			g.write(s[pos : pos+1])
			pos++
		default:
			pos = len(s) + 1
		}
		if anchor || pos > len(s) {
			break
		}
	}
	if pos < len(s) {
		g.write(s[pos:])
	}
	L.Push(lua.LString(g.out.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// gsubRun is one gsub call: the result being built and how to fill it.
type gsubRun struct {
	L    *lua.LState
	lib  *patternLib
	src  string
	repl lua.LValue
	m    *luapat.Matcher
	out  strings.Builder
	poll func() error
	n    int // writes so far, to poll every luapat.PollEvery of them
}

// write appends to the result within the size bound, polling the
// context every PollEvery small pieces and before every large one.
func (g *gsubRun) write(s string) {
	if g.out.Len()+len(s) > g.lib.max {
		g.L.RaiseError("string.gsub: result longer than %d bytes", g.lib.max)
	}
	if g.n++; g.poll != nil && (g.n%luapat.PollEvery == 0 || len(s) > 1024) {
		if err := g.poll(); err != nil {
			g.L.RaiseError("%s", err.Error())
		}
	}
	g.out.WriteString(s)
}

// add appends the replacement of the match src[start:end].
func (g *gsubRun) add(start, end int) {
	L := g.L
	caps, err := g.m.Captures()
	if err != nil {
		raise(L, "string.gsub", err)
	}
	whole := g.src[start:end]
	var v lua.LValue
	switch r := g.repl.(type) {
	case lua.LString, lua.LNumber:
		g.addString(lua.LVAsString(r), whole, caps)
		return
	case *lua.LTable:
		v = L.GetTable(r, g.capture(0, whole, caps))
	case *lua.LFunction:
		L.Push(r)
		n := 1
		if caps == nil {
			L.Push(lua.LString(whole))
		} else {
			n = pushCaptures(L, g.src, caps)
		}
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v.Type() {
	case lua.LTNil:
		g.write(whole)
	case lua.LTBool:
		if v == lua.LFalse {
			g.write(whole)
		} else {
			L.RaiseError("string.gsub: invalid replacement value (a boolean)")
		}
	case lua.LTString, lua.LTNumber:
		g.write(lua.LVAsString(v))
	default:
		L.RaiseError("string.gsub: invalid replacement value (a %s)", v.Type().String())
	}
}

// addString expands a replacement string: %0 is the match, %1-%9 the
// captures (%1 the match when there are none), %x any other byte x.
func (g *gsubRun) addString(r, whole string, caps []luapat.Capture) {
	for i := 0; i < len(r); i++ {
		if j := strings.IndexByte(r[i:], '%'); j != 0 {
			if j < 0 {
				g.write(r[i:])
				return
			}
			g.write(r[i : i+j])
			i += j
		}
		if i+1 == len(r) {
			g.write("%")
			return
		}
		i++
		d := r[i]
		switch {
		case d == '0':
			g.write(whole)
		case '1' <= d && d <= '9':
			g.write(lua.LVAsString(g.capture(int(d-'1'), whole, caps)))
		default:
			g.write(r[i : i+1])
		}
	}
}

// capture is capture i of the match, the whole match standing in for
// the first when the pattern has none.
func (g *gsubRun) capture(i int, whole string, caps []luapat.Capture) lua.LValue {
	if caps == nil && i == 0 {
		return lua.LString(whole)
	}
	if i >= len(caps) {
		g.L.RaiseError("string.gsub: invalid capture index")
	}
	return captureValue(g.src, caps[i])
}
