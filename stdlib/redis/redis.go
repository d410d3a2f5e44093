package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	lua "github.com/yuin/gopher-lua"
)

// ErrNotConfigured is raised when the daemon has no [redis] section.
var ErrNotConfigured = errors.New("redis: no [redis] addresses configured")

// refused are commands a script must not send on a pooled connection:
// they change the connection's mode or database, block it for good, or
// administer the server every node shares.
var refused = map[string]bool{
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true, "UNSUBSCRIBE": true,
	"PUNSUBSCRIBE": true, "SUNSUBSCRIBE": true, "MONITOR": true, "SYNC": true, "PSYNC": true,
	"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true, "UNWATCH": true,
	"SELECT": true, "QUIT": true, "RESET": true, "AUTH": true, "HELLO": true, "CLIENT": true,
	"SHUTDOWN": true, "FLUSHALL": true, "FLUSHDB": true, "CONFIG": true, "DEBUG": true,
	"REPLICAOF": true, "SLAVEOF": true, "FAILOVER": true, "CLUSTER": true, "SCRIPT": true,
	"FUNCTION": true, "ACL": true, "MODULE": true, "SAVE": true, "BGSAVE": true,
	"BGREWRITEAOF": true, "MIGRATE": true, "KEYS": true,
}

// Loader returns the lua.LGFunction for PreloadModule("redis", ...); a
// nil client makes every call fail with ErrNotConfigured.
func Loader(c goredis.UniversalClient) lua.LGFunction {
	return func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"call": func(L *lua.LState) int { return call(L, c) },
		}))
		return 1
	}
}

func call(L *lua.LState, c goredis.UniversalClient) int {
	args, err := commandArgs(L)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if c == nil {
		L.RaiseError("%s", ErrNotConfigured.Error())
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	v, err := c.Do(ctx, args...).Result()
	if errors.Is(err, goredis.Nil) {
		L.Push(lua.LNil)
		return 1
	}
	if err != nil {
		L.RaiseError("redis: %s: %v", args[0], err)
	}
	L.Push(toLua(L, v))
	return 1
}

func commandArgs(L *lua.LState) ([]any, error) {
	n := L.GetTop()
	if n == 0 {
		return nil, errors.New("redis.call: no command")
	}
	args := make([]any, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = string(v)
		case lua.LNumber:
			args[i-1] = v.String()
		default:
			return nil, fmt.Errorf("redis.call: argument %d is a %s; want a string or number", i, v.Type())
		}
	}
	name := strings.ToUpper(args[0].(string))
	if refused[name] {
		return nil, fmt.Errorf("redis.call: %s is not allowed from scripts", name)
	}
	return args, nil
}

// toLua converts a reply as Redis's own scripting does.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LFalse
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[any]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSet(toLua(L, k), toLua(L, e))
		}
		return t
	case error:
		return lua.LString(v.Error())
	}
	return lua.LString(fmt.Sprint(v))
}
