package throttle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	core "github.com/moonpost/moonpost/core/throttle"
)

var (
	defaultOnce sync.Once
	defaultLim  *core.Limiter
)

// nodeLocal is the limiter of engines given none: node-local, and one
// per process so every Lua state counts into the same buckets.
func nodeLocal() *core.Limiter {
	defaultOnce.Do(func() { defaultLim = core.New(core.Options{Logger: slog.Default()}) })
	return defaultLim
}

// Loader returns the lua.LGFunction for PreloadModule("throttle", ...);
// a nil limiter means node-local limits.
func Loader(l *core.Limiter) lua.LGFunction {
	if l == nil {
		l = nodeLocal()
	}
	return func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"check": func(L *lua.LState) int { return check(L, l) },
		}))
		return 1
	}
}

func check(L *lua.LState, l *core.Limiter) int {
	key := L.CheckString(1)
	rate, err := core.ParseRate(L.CheckString(2))
	if err != nil {
		L.ArgError(2, err.Error())
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := l.Check(ctx, key, rate)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(lua.LBool(res.Allowed))
	// Seconds, rounded up to the millisecond: never 0 for a refusal.
	ms := int64(0)
	if !res.Allowed {
		ms = max(1, int64((res.RetryAfter+time.Millisecond-1)/time.Millisecond))
	}
	L.Push(lua.LNumber(float64(ms) / 1000))
	return 2
}
