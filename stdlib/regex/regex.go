package regex

import (
	"regexp"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

const (
	maxPattern = 4096 // longer patterns are refused: they are not policy
	cacheSize  = 512  // compiled patterns kept; the cache is reset when full
	typeName   = "regex.re"
)

var cache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

// Compile returns the cached compiled pattern. A full cache is dropped
// wholesale: simpler than LRU, and scripts use a handful of patterns.
func Compile(pat string) (*regexp.Regexp, error) {
	cache.Lock()
	defer cache.Unlock()
	if re, ok := cache.m[pat]; ok {
		return re, nil
	}
	if len(pat) > maxPattern {
		return nil, errTooLong
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	if len(cache.m) >= cacheSize {
		cache.m = map[string]*regexp.Regexp{}
	}
	cache.m[pat] = re
	return re, nil
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errTooLong = constErr("regex: pattern too long")

// Loader is the lua.LGFunction for PreloadModule("regex", Loader).
func Loader(L *lua.LState) int {
	mt := L.NewTypeMetatable(typeName)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"match": method(match), "find": method(find), "gsub": method(gsub),
	}))
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"match":   function(match),
		"find":    function(find),
		"gsub":    function(gsub),
		"replace": function(gsub),
		"compile": compile,
	}))
	return 1
}

// op works on a compiled pattern; args start at index base.
type op func(L *lua.LState, re *regexp.Regexp, base int) int

// function adapts op to module functions: (pattern, subject, ...).
func function(f op) lua.LGFunction {
	return func(L *lua.LState) int {
		re, err := Compile(L.CheckString(1))
		if err != nil {
			L.ArgError(1, err.Error())
		}
		return f(L, re, 2)
	}
}

// method adapts op to methods on a compiled object: re:op(subject, ...).
func method(f op) lua.LGFunction {
	return func(L *lua.LState) int {
		ud := L.CheckUserData(1)
		re, ok := ud.Value.(*regexp.Regexp)
		if !ok {
			L.ArgError(1, "regex expected")
		}
		return f(L, re, 2)
	}
}

func compile(L *lua.LState) int {
	re, err := Compile(L.CheckString(1))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	ud := L.NewUserData()
	ud.Value = re
	L.SetMetatable(ud, L.GetTypeMetatable(typeName))
	L.Push(ud)
	return 1
}

func match(L *lua.LState, re *regexp.Regexp, base int) int {
	L.Push(lua.LBool(re.MatchString(L.CheckString(base))))
	return 1
}

// find returns the whole match and a list of its groups (false for a
// group that did not participate), or nil.
func find(L *lua.LState, re *regexp.Regexp, base int) int {
	m := re.FindStringSubmatchIndex(L.CheckString(base))
	if m == nil {
		L.Push(lua.LNil)
		return 1
	}
	s := L.CheckString(base)
	groups := L.CreateTable(len(m)/2-1, 0)
	for i := 2; i < len(m); i += 2 {
		if m[i] < 0 {
			groups.Append(lua.LFalse)
			continue
		}
		groups.Append(lua.LString(s[m[i]:m[i+1]]))
	}
	L.Push(lua.LString(s[m[0]:m[1]]))
	L.Push(groups)
	return 2
}

// Bounds of gsub, which runs in one Go call that the VM's deadline check
// cannot interrupt: a replacement repeated for every match of "." could
// otherwise build gigabytes. It also looks at the context between
// matches. Variables only so that tests can reach the bounds quickly.
var (
	maxMatches = 1 << 16  // matches one gsub may replace
	maxResult  = 16 << 20 // bytes of its result, the engine's default max_string
)

// findAll finds up to maxMatches+1 matches of re in s. The search is one
// Go call the state's deadline cannot interrupt, so it runs in a
// goroutine of its own and the call returns at the deadline; the search
// then finishes unwatched, bounded by the size of s (a Lua string, at
// most max_string) and by maxMatches, and its result is dropped.
func findAll(L *lua.LState, re *regexp.Regexp, s string) [][]int {
	n, ctx := maxMatches+1, L.Context()
	if ctx == nil {
		return re.FindAllStringSubmatchIndex(s, n)
	}
	found := make(chan [][]int, 1)
	go func() { found <- re.FindAllStringSubmatchIndex(s, n) }()
	select {
	case m := <-found:
		return m
	case <-ctx.Done():
		L.RaiseError("%s", ctx.Err().Error())
		return nil
	}
}

// gsub replaces every match; repl may use $1 / ${name}. It also returns
// the number of replacements, like string.gsub. More than maxMatches
// matches or a result over maxResult bytes is an error.
func gsub(L *lua.LState, re *regexp.Regexp, base int) int {
	s := L.CheckString(base)
	repl := L.CheckString(base + 1)
	matches := findAll(L, re, s)
	if len(matches) > maxMatches {
		L.RaiseError("regex.gsub: more than %d matches", maxMatches)
	}
	var done <-chan struct{}
	if ctx := L.Context(); ctx != nil {
		done = ctx.Done()
	}
	var out []byte
	last := 0
	for _, m := range matches {
		select { // a long replacement makes each expansion slow
		case <-done:
			L.RaiseError("%s", L.Context().Err().Error())
		default:
		}
		out = append(out, s[last:m[0]]...)
		out = re.ExpandString(out, repl, s, m)
		last = m[1]
		if len(out) > maxResult {
			L.RaiseError("regex.gsub: result longer than %d bytes", maxResult)
		}
	}
	out = append(out, s[last:]...)
	if len(out) > maxResult {
		L.RaiseError("regex.gsub: result longer than %d bytes", maxResult)
	}
	L.Push(lua.LString(out))
	L.Push(lua.LNumber(len(matches)))
	return 2
}
