package regex_test

import (
	"testing"

	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
	"github.com/moonpost/moonpost/stdlib/regex"
)

func TestLua(t *testing.T) {
	defer regex.SetBounds(4096, 1<<20)() // regex_test.lua goes past both
	luatest.Run(t, ".", hooks.Config{})
}
