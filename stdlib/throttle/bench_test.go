package throttle_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/testserver"
	core "github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/hooks"
)

const benchScript = `
local throttle = require("throttle")
mta.on("mail", function(s, from)
  local ok, retry = throttle.check(KEY .. from:match("@(.+)$"), "1000000000/s")
  if not ok then return mta.defer(450, "4.7.1", "limit") end
end)`

func benchEngine(b *testing.B, key string, lim *core.Limiter) *hooks.Engine {
	dir := b.TempDir()
	src := "local KEY = " + `"` + key + `"` + benchScript
	if err := os.WriteFile(filepath.Join(dir, "10-limit.lua"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	e, err := hooks.New(hooks.Config{Dir: dir, Throttle: lim, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

func benchMail(b *testing.B, e *hooks.Engine) {
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		s := &policy.Session{ID: "s", Listener: "smtp", Helo: "client.example"}
		for pb.Next() {
			if v, err := e.Mail(ctx, s, "u@tenant.example"); err != nil || v != nil {
				b.Fatal(v, err)
			}
		}
	})
}

// BenchmarkMailHookSharedThrottle is the MAIL hook of a message with one
// shared throttle.check: a Lua call plus one Redis round trip.
func BenchmarkMailHookSharedThrottle(b *testing.B) {
	srv := testserver.StartRedis(b)
	c := core.NewRedisClient(config.Redis{Addresses: []string{srv.Addr}})
	defer c.Close()
	benchMail(b, benchEngine(b, "tenant:", core.New(core.Options{Redis: c})))
}

// BenchmarkMailHookLocalThrottle is the same with a node-local key.
func BenchmarkMailHookLocalThrottle(b *testing.B) {
	benchMail(b, benchEngine(b, "local:tenant:", nil))
}
