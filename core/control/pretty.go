package control

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Bounds of the pretty-printer: nesting shown, entries per table, and
// the width under which a table stays on one line.
const (
	prettyDepth = 6
	prettyItems = 200
	prettyWidth = 100
)

// Pretty renders v readably: strings quoted, tables as Lua
// constructors with sorted keys ("id" and "state" first, so queue
// entries start with what identifies them), short tables on one line,
// cycles and depth beyond the bound elided.
func Pretty(v lua.LValue) string {
	p := &printer{seen: map[*lua.LTable]bool{}}
	return p.value(v, 0)
}

type printer struct {
	seen map[*lua.LTable]bool
}

func (p *printer) value(v lua.LValue, depth int) string {
	switch x := v.(type) {
	case lua.LString:
		return strconv.Quote(string(x))
	case lua.LNumber:
		return x.String()
	case *lua.LTable:
		return p.table(x, depth)
	}
	return v.String()
}

type field struct{ key, val string }

func (p *printer) table(t *lua.LTable, depth int) string {
	if p.seen[t] {
		return "<cycle>"
	}
	if depth >= prettyDepth {
		return "{...}"
	}
	p.seen[t] = true
	defer delete(p.seen, t)
	fields, more := p.fields(t, depth)
	if len(fields) == 0 {
		return "{}"
	}
	parts := make([]string, len(fields))
	oneLine, width := true, 0
	for i, f := range fields {
		parts[i] = f.val
		if f.key != "" {
			parts[i] = f.key + " = " + f.val
		}
		width += len(parts[i]) + 2
		oneLine = oneLine && !strings.Contains(parts[i], "\n")
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("-- %d more", more))
		oneLine = false
	}
	if oneLine && width <= prettyWidth {
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	indent := strings.Repeat("  ", depth+1)
	var b strings.Builder
	b.WriteString("{\n")
	for _, s := range parts {
		b.WriteString(indent + s + ",\n")
	}
	b.WriteString(strings.Repeat("  ", depth) + "}")
	return b.String()
}

// fields lists the array part in order, then the other keys sorted.
func (p *printer) fields(t *lua.LTable, depth int) (out []field, more int) {
	n := t.Len()
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if num, ok := k.(lua.LNumber); ok && float64(num) == float64(int(num)) && int(num) >= 1 && int(num) <= n {
			return
		}
		keys = append(keys, k)
	})
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	for i := 1; i <= n; i++ {
		if len(out) == prettyItems {
			return out, n - i + 1 + len(keys)
		}
		out = append(out, field{val: p.value(t.RawGetInt(i), depth+1)})
	}
	for i, k := range keys {
		if len(out) == prettyItems {
			return out, len(keys) - i
		}
		out = append(out, field{key: keyString(k), val: p.value(t.RawGet(k), depth+1)})
	}
	return out, 0
}

var firstKeys = map[string]int{"id": 1, "state": 2}

func keyLess(a, b lua.LValue) bool {
	as, aok := a.(lua.LString)
	bs, bok := b.(lua.LString)
	if aok && bok {
		ra, rb := firstKeys[string(as)], firstKeys[string(bs)]
		if ra != rb {
			return ra != 0 && (rb == 0 || ra < rb)
		}
		return as < bs
	}
	if aok != bok {
		return bok // numbers and others before strings
	}
	return a.String() < b.String()
}

func keyString(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok && isIdent(string(s)) {
		return string(s)
	}
	return "[" + (&printer{}).value(k, prettyDepth) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return !luaKeywords[s]
}

var luaKeywords = map[string]bool{"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "goto": true, "if": true, "in": true, "local": true, "nil": true,
	"not": true, "or": true, "repeat": true, "return": true, "then": true, "true": true, "until": true, "while": true}
