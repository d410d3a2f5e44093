// Package luapat matches Lua 5.1 patterns (the language of string.find,
// match, gmatch and gsub) under a step budget.
//
// It exists because a backtracking pattern such as ("a"):rep(40).."b"
// against (".-"):rep(20) is exponential, and the matcher gopher-lua ships
// is Go code that never looks at the state's context: one call could run
// for minutes after its hook's deadline. This matcher counts its steps
// and asks a poll function every PollEvery steps whether to go on; when
// it says no, the match stops with that error. It allocates nothing per
// step, so memory stays what the captures take.
//
// The algorithm is the classic recursive backtracking one of Lua's
// reference implementation (single-character classes, sets, the four
// quantifiers, anchors, captures and position captures, back
// references, %b and %f), written from the language definition.
package luapat

import "fmt"

// PollEvery is how many steps pass between two polls: small enough that a
// cancelled match stops within microseconds, large enough that polling
// costs nothing measurable.
const PollEvery = 1024

// MaxCaptures is Lua's LUA_MAXCAPTURES; maxDepth bounds the recursion, as
// Lua's MAXCCALLS does ("pattern too complex").
const (
	MaxCaptures = 32
	maxDepth    = 200
)

// Capture lengths with a special meaning.
const (
	capUnfinished = -1
	// CapPosition marks a position capture "()": Start is the position.
	CapPosition = -2
)

// Capture is one capture of a match: Len bytes at Start, or a position
// capture when Len is CapPosition.
type Capture struct{ Start, Len int }

// Error is a malformed pattern; the text reads like Lua's own.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// errStop carries the poll function's error out of the recursion.
type errStop struct{ err error }

// Matcher matches one pattern against one subject. Reset it (or make a
// new one) for each pair; it is not safe for concurrent use.
type Matcher struct {
	src, pat string
	level    int // captures opened so far
	capture  [MaxCaptures]Capture
	depth    int
	steps    int
	// Poll is asked every PollEvery steps; a non-nil error stops the
	// match and is returned by Find. nil never stops.
	Poll func() error
}

// New makes a matcher of pat against src.
func New(src, pat string, poll func() error) *Matcher {
	return &Matcher{src: src, pat: pat, Poll: poll}
}

// Steps reports how many steps the matcher has taken so far.
func (m *Matcher) Steps() int { return m.steps }

// Find looks for the first match starting at or after init (a byte
// offset, 0-based); anchored patterns ("^...") are tried at init only.
// It returns the match's bounds and its captures (nil when the pattern
// has none), ok false when there is no match, or an error for a
// malformed pattern or a stop by Poll.
func (m *Matcher) Find(init int) (start, end int, caps []Capture, ok bool, err error) {
	p, anchor := 0, len(m.pat) > 0 && m.pat[0] == '^'
	if anchor {
		p = 1
	}
	for s := init; s <= len(m.src); s++ {
		e, err := m.MatchAt(s, p)
		if err != nil {
			return 0, 0, nil, false, err
		}
		if e >= 0 {
			caps, err := m.Captures()
			return s, e, caps, err == nil, err
		}
		if anchor {
			break
		}
	}
	return 0, 0, nil, false, nil
}

// MatchAt tries the pattern from byte p on against the subject at s
// only, returning the end of the match or -1. Captures refers to it.
func (m *Matcher) MatchAt(s, p int) (end int, err error) {
	defer func() {
		if r := recover(); r != nil {
			switch v := r.(type) {
			case errStop:
				end, err = -1, v.err
			case *Error:
				end, err = -1, v
			default:
				panic(r)
			}
		}
	}()
	m.level, m.depth = 0, 0
	return m.match(s, p), nil
}

// Captures returns the captures of the last successful MatchAt, nil when
// the pattern has none; a capture left open is an error.
func (m *Matcher) Captures() ([]Capture, error) {
	if m.level == 0 {
		return nil, nil
	}
	for i := 0; i < m.level; i++ {
		if m.capture[i].Len == capUnfinished {
			return nil, &Error{"unfinished capture"}
		}
	}
	return append([]Capture(nil), m.capture[:m.level]...), nil
}

func (m *Matcher) fail(format string, args ...any) {
	panic(&Error{fmt.Sprintf(format, args...)})
}

// tick counts a step and polls every PollEvery of them.
func (m *Matcher) tick() {
	m.steps++
	if m.steps%PollEvery == 0 && m.Poll != nil {
		if err := m.Poll(); err != nil {
			panic(errStop{err})
		}
	}
}

// match matches pat[p:] at src[s:] and returns the end of the match or
// -1. Simple items loop; quantifiers and captures recurse.
func (m *Matcher) match(s, p int) int {
	m.depth++
	if m.depth > maxDepth {
		m.fail("pattern too complex")
	}
	r := m.matchItems(s, p)
	m.depth--
	return r
}

func (m *Matcher) matchItems(s, p int) int {
	pat := m.pat
	for {
		m.tick()
		if p == len(pat) {
			return s
		}
		switch c := pat[p]; {
		case c == '(':
			if p+1 < len(pat) && pat[p+1] == ')' {
				return m.startCapture(s, p+2, CapPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case c == ')':
			return m.endCapture(s, p+1)
		case c == '$' && p+1 == len(pat):
			if s == len(m.src) {
				return s
			}
			return -1
		case c == '%' && p+1 < len(pat) && pat[p+1] == 'b':
			if s = m.matchBalance(s, p+2); s < 0 {
				return -1
			}
			p += 4
			continue
		case c == '%' && p+1 < len(pat) && pat[p+1] == 'f':
			if p = m.frontier(s, p+2); p < 0 {
				return -1
			}
			continue
		case c == '%' && p+1 < len(pat) && isDigit(pat[p+1]):
			if s = m.backref(s, pat[p+1]); s < 0 {
				return -1
			}
			p += 2
			continue
		}
		ep := m.classEnd(p)
		ok := s < len(m.src) && m.single(m.src[s], p, ep)
		if ep < len(pat) {
			switch pat[ep] {
			case '?':
				if ok {
					if r := m.match(s+1, ep+1); r >= 0 {
						return r
					}
				}
				p = ep + 1
				continue
			case '*':
				return m.maxExpand(s, p, ep)
			case '+':
				if !ok {
					return -1
				}
				return m.maxExpand(s+1, p, ep)
			case '-':
				return m.minExpand(s, p, ep)
			}
		}
		if !ok {
			return -1
		}
		s, p = s+1, ep
	}
}

// maxExpand matches as many repetitions of the item at p as possible,
// then gives them back one by one until the rest matches.
func (m *Matcher) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(m.src) && m.single(m.src[s+i], p, ep) {
		m.tick()
		i++
	}
	for ; i >= 0; i-- {
		if r := m.match(s+i, ep+1); r >= 0 {
			return r
		}
	}
	return -1
}

// minExpand tries the rest first and takes one more repetition only
// when it fails.
func (m *Matcher) minExpand(s, p, ep int) int {
	for {
		if r := m.match(s, ep+1); r >= 0 {
			return r
		}
		if s < len(m.src) && m.single(m.src[s], p, ep) {
			s++
			continue
		}
		return -1
	}
}

func (m *Matcher) startCapture(s, p, what int) int {
	if m.level >= MaxCaptures {
		m.fail("too many captures")
	}
	m.capture[m.level] = Capture{Start: s, Len: what}
	m.level++
	r := m.match(s, p)
	if r < 0 {
		m.level--
	}
	return r
}

func (m *Matcher) endCapture(s, p int) int {
	l := -1
	for i := m.level - 1; i >= 0; i-- {
		if m.capture[i].Len == capUnfinished {
			l = i
			break
		}
	}
	if l < 0 {
		m.fail("invalid pattern capture")
	}
	m.capture[l].Len = s - m.capture[l].Start
	r := m.match(s, p)
	if r < 0 {
		m.capture[l].Len = capUnfinished
	}
	return r
}

// matchBalance matches %bxy with x at pat[p]: x, then anything with x
// and y balanced, then y.
func (m *Matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.fail("malformed pattern (missing arguments to '%%b')")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	open, close := m.pat[p], m.pat[p+1]
	depth := 1
	for i := s + 1; i < len(m.src); i++ {
		m.tick()
		switch m.src[i] {
		case close:
			if depth--; depth == 0 {
				return i + 1
			}
		case open:
			depth++
		}
	}
	return -1
}

// frontier matches %f[set] with the set at pat[p]: the position where
// the previous byte is not in the set and the next one is. It returns
// the pattern position after the set, or -1.
func (m *Matcher) frontier(s, p int) int {
	if p >= len(m.pat) || m.pat[p] != '[' {
		m.fail("missing '[' after '%%f' in pattern")
	}
	ep := m.classEnd(p)
	var prev, cur byte
	if s > 0 {
		prev = m.src[s-1]
	}
	if s < len(m.src) {
		cur = m.src[s]
	}
	if !m.inSet(prev, p, ep-1) && m.inSet(cur, p, ep-1) {
		return ep
	}
	return -1
}

// backref matches %1..%9: the same text as that capture again.
func (m *Matcher) backref(s int, d byte) int {
	l := int(d - '1')
	if l < 0 || l >= m.level || m.capture[l].Len == capUnfinished {
		m.fail("invalid capture index")
	}
	c := m.capture[l]
	n := c.Len
	if n == CapPosition {
		n = 0
	}
	if len(m.src)-s >= n && m.src[s:s+n] == m.src[c.Start:c.Start+n] {
		return s + n
	}
	return -1
}

// classEnd returns the position just after the single-character class
// starting at p: "x", "%x" or a set "[...]".
func (m *Matcher) classEnd(p int) int {
	pat := m.pat
	c := pat[p]
	p++
	switch c {
	case '%':
		if p >= len(pat) {
			m.fail("malformed pattern (ends with '%%')")
		}
		return p + 1
	case '[':
		if p < len(pat) && pat[p] == '^' {
			p++
		}
		// The first byte of a set is itself even when it is ']'.
		for first := true; ; first = false {
			if p >= len(pat) {
				m.fail("malformed pattern (missing ']')")
			}
			c := pat[p]
			p++
			switch {
			case c == '%':
				if p >= len(pat) {
					m.fail("malformed pattern (missing ']')")
				}
				p++
			case c == ']' && !first:
				return p
			}
		}
	}
	return p
}

// single says whether byte c matches the class pat[p:ep].
func (m *Matcher) single(c byte, p, ep int) bool {
	switch m.pat[p] {
	case '.':
		return true
	case '%':
		return classMatch(c, m.pat[p+1])
	case '[':
		return m.inSet(c, p, ep-1)
	}
	return m.pat[p] == c
}

// inSet matches c against the set from '[' at p to ']' at end.
func (m *Matcher) inSet(c byte, p, end int) bool {
	pat := m.pat
	p++
	want := true
	if pat[p] == '^' {
		want = false
		p++
	}
	for p < end {
		switch {
		case pat[p] == '%' && p+1 < end:
			if classMatch(c, pat[p+1]) {
				return want
			}
			p += 2
		case p+2 < end && pat[p+1] == '-':
			if pat[p] <= c && c <= pat[p+2] {
				return want
			}
			p += 3
		default:
			if pat[p] == c {
				return want
			}
			p++
		}
	}
	return !want
}

// classMatch matches c against %cl: a class letter (its upper case is
// the complement) or, for anything else, cl itself. ASCII only, as Lua
// in the C locale.
func classMatch(c, cl byte) bool {
	var in bool
	switch cl | 0x20 {
	case 'a':
		in = isAlpha(c)
	case 'c':
		in = c < 0x20 || c == 0x7f
	case 'd':
		in = isDigit(c)
	case 'l':
		in = 'a' <= c && c <= 'z'
	case 'p':
		in = isPunct(c)
	case 's':
		in = c == ' ' || ('\t' <= c && c <= '\r')
	case 'u':
		in = 'A' <= c && c <= 'Z'
	case 'w':
		in = isAlpha(c) || isDigit(c)
	case 'x':
		in = isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f')
	case 'z':
		in = c == 0
	default:
		return cl == c
	}
	if 'A' <= cl && cl <= 'Z' {
		return !in
	}
	return in
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isPunct(c byte) bool {
	return c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c)
}

// HasSpecials reports whether pat uses any pattern syntax; a pattern
// without is found with a plain substring search.
func HasSpecials(pat string) bool {
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '^', '$', '*', '+', '?', '.', '(', '[', '%', '-':
			return true
		}
	}
	return false
}
