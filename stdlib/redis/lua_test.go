package redis_test

import (
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
	core "github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

// TestLua runs redis_test.lua against a real Redis.
func TestLua(t *testing.T) {
	srv := testserver.StartRedis(t)
	c := core.NewRedisClient(config.Redis{Addresses: []string{srv.Addr}})
	defer c.Close()
	luatest.Run(t, ".", hooks.Config{Redis: c})
}

// TestLuaRedisDown: an unreachable server, and no [redis] at all, are
// Lua errors a script may catch with pcall.
func TestLuaRedisDown(t *testing.T) {
	c := core.NewRedisClient(config.Redis{Addresses: []string{"127.0.0.1:1"},
		DialTimeout: config.Duration(200 * time.Millisecond)})
	defer c.Close()
	luatest.Run(t, "testdata/down", hooks.Config{Redis: c})
	luatest.Run(t, "testdata/down", hooks.Config{})
}
