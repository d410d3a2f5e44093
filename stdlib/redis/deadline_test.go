package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
	core "github.com/moonpost/moonpost/core/throttle"
	stdredis "github.com/moonpost/moonpost/stdlib/redis"
)

// TestCallHonoursDeadline: a command that would block for 5s ends with
// the state's context, as a hook's call deadline does.
func TestCallHonoursDeadline(t *testing.T) {
	srv := testserver.StartRedis(t)
	c := core.NewRedisClient(config.Redis{Addresses: []string{srv.Addr}, ReadTimeout: config.Duration(10 * time.Second)})
	defer c.Close()
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("redis", stdredis.Loader(c))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	start := time.Now()
	err := L.DoString(`return require("redis").call("BLPOP", "empty", "5")`)
	if err == nil || !strings.Contains(err.Error(), "BLPOP") {
		t.Fatalf("BLPOP past the deadline: %v, want a redis error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("call took %v with a 200ms deadline", d)
	}
}
