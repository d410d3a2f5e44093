package throttle_test

import (
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
	core "github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

// TestLua runs throttle_test.lua against a real Redis.
func TestLua(t *testing.T) {
	srv := testserver.StartRedis(t)
	c := core.NewRedisClient(config.Redis{Addresses: []string{srv.Addr}})
	defer c.Close()
	luatest.Run(t, ".", hooks.Config{Throttle: core.New(core.Options{Redis: c}), Redis: c})
}

// TestLuaNodeLocal: without Redis every key is counted in the node.
func TestLuaNodeLocal(t *testing.T) {
	luatest.Run(t, "testdata/local", hooks.Config{})
}

// TestLuaRedisDown: a fail-closed check with Redis gone is a Lua error.
func TestLuaRedisDown(t *testing.T) {
	c := core.NewRedisClient(config.Redis{Addresses: []string{"127.0.0.1:1"},
		DialTimeout: config.Duration(200 * time.Millisecond)})
	defer c.Close()
	luatest.Run(t, "testdata/down", hooks.Config{Throttle: core.New(core.Options{Redis: c})})
}
