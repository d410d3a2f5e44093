package control

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestPretty(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	for _, tc := range []struct{ code, want string }{
		{`return "a\nb"`, `"a\nb"`},
		{`return 3`, `3`},
		{`return 0.5`, `0.5`},
		{`return {}`, `{}`},
		{`return {3, 2, 1}`, `{ 3, 2, 1 }`},
		{`return {state = "hold", id = "X", arrival = 1, ["a b"] = true, ["end"] = 1}`,
			`{ id = "X", state = "hold", ["a b"] = true, arrival = 1, ["end"] = 1 }`},
		{`local t = {1}; t.self = t; return t`, `{ 1, self = <cycle> }`},
		{`return {{{{{{{{1}}}}}}}}`, `{ { { { { { {...} } } } } } }`},
		{`return {long = string.rep("x", 120), n = {1}}`,
			"{\n  long = \"" + strings.Repeat("x", 120) + "\",\n  n = { 1 },\n}"},
	} {
		if err := L.DoString(tc.code); err != nil {
			t.Fatal(err)
		}
		if got := Pretty(L.Get(-1)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.code, got, tc.want)
		}
		L.SetTop(0)
	}
	if err := L.DoString(`t = {} for i = 1, 1000 do t[i] = i end`); err != nil {
		t.Fatal(err)
	}
	if got := Pretty(L.GetGlobal("t")); !strings.Contains(got, "-- 800 more") {
		t.Errorf("big table not bounded: %d bytes", len(got))
	}
}
