package json_test

import (
	"testing"

	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

func TestLua(t *testing.T) {
	luatest.Run(t, ".", hooks.Config{})
}
