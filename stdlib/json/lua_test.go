package json_test

import (
	"testing"

	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
	"github.com/moonpost/moonpost/stdlib/json"
)

func TestLua(t *testing.T) {
	// A 1 MiB bound is reached as surely as the daemon's 16 MiB one, in a
	// sixteenth of the time (json_test.lua encodes a table of 2^60 values).
	defer func(n int) { json.MaxOutput = n }(json.MaxOutput)
	json.MaxOutput = 1 << 20
	luatest.Run(t, ".", hooks.Config{})
}
