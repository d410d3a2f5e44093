package config

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/hooks/luaconv"
)

// Loader returns the lua.LGFunction for PreloadModule("config", ...)
// over cfg. cfg is converted once per state; later changes to the map
// are seen by states built after them (that is, after a reload).
func Loader(cfg map[string]any) lua.LGFunction {
	return func(L *lua.LState) int {
		t, ok := luaconv.ToLua(L, cfg).(*lua.LTable)
		if !ok {
			t = L.NewTable()
		}
		L.Push(luaconv.ReadOnly(L, t, "config"))
		return 1
	}
}
