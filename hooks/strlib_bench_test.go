package hooks

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// BenchmarkStringLibrary compares the engine's bounded pattern functions
// and concatenation with gopher-lua's own, 1000 operations per op.
//
//	go test -run '^$' -bench StringLibrary -benchmem ./hooks/
func BenchmarkStringLibrary(b *testing.B) {
	e := newEngine(b, map[string]string{"10-empty.lua": ""})
	for _, tc := range []struct{ name, src string }{
		{"match", `local s = "alice+tag@example.com" for i = 1, 1000 do local a, d = s:match("^([^@]+)@(.+)$") end`},
		{"concat", `local s = "alice" for i = 1, 1000 do local a = s .. "@" .. "example.com" end`},
		{"find_plain", `local s = "alice+tag@example.com" for i = 1, 1000 do local a = s:find("@", 1, true) end`},
		{"gsub", `local s = "Alice@Example.COM" for i = 1, 1000 do local a = s:gsub("%u", string.lower) end`},
	} {
		for _, guarded := range []bool{true, false} {
			name := tc.name + "/gopher"
			var L *lua.LState
			var fn *lua.LFunction
			if guarded {
				name = tc.name + "/engine"
				L = e.NewState()
				proto, err := Compile(strings.NewReader(tc.src), "b")
				if err != nil {
					b.Fatal(err)
				}
				fn = L.NewFunctionFromProto(proto)
			} else {
				L = lua.NewState()
				var err error
				if fn, err = L.LoadString(tc.src); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					L.Push(fn)
					if err := L.PCall(0, 0, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
