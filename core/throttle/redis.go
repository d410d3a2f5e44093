package throttle

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moonpost/moonpost/core/config"
)

// keyPrefix namespaces the throttle keys in a Redis shared with others.
const keyPrefix = "moonpost:throttle:"

// gcraScript is the shared check, in microseconds on Redis's clock.
// ARGV[1] is the emission interval, ARGV[2] the period; ARGV[3] "1"
// only asks (a peek: the key is not written). It returns {1, 0} when
// allowed, {0, wait} when not. The TAT is written with
// %.0f: Redis would format a plain number with 14 digits and lose the
// microseconds. The key expires when its bucket is full again (at
// least 1ms: a rate above 1000/s may leave less).
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new = tat + interval
local allow_at = new - period
if now < allow_at then
  return {0, allow_at - now}
end
if ARGV[3] ~= '1' then
  redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.max(1, math.ceil((new - now) / 1000)))
end
return {1, 0}
`)

func checkRedis(ctx context.Context, c redis.UniversalClient, key string, r Rate, peek bool) (Result, error) {
	ask := 0
	if peek {
		ask = 1
	}
	v, err := gcraScript.Run(ctx, c, []string{keyPrefix + key},
		r.Interval().Microseconds(), r.Per.Microseconds(), ask).Int64Slice()
	if err != nil {
		return Result{}, err
	}
	if len(v) != 2 {
		return Result{}, fmt.Errorf("throttle: unexpected script reply %v", v)
	}
	return Result{Allowed: v[0] == 1, RetryAfter: time.Duration(v[1]) * time.Microsecond, Shared: true}, nil
}

// NewRedisClient builds the client for a [redis] section: one address
// is a single server, several a Cluster, and master_name makes them
// Sentinels. Nil when no address is configured.
func NewRedisClient(c config.Redis) redis.UniversalClient {
	if len(c.Addresses) == 0 {
		return nil
	}
	o := &redis.UniversalOptions{
		Addrs: c.Addresses, Username: c.Username, Password: c.Password, DB: c.Database,
		MasterName: c.MasterName, PoolSize: c.PoolSize,
		DialTimeout: c.DialTimeout.D(), ReadTimeout: c.ReadTimeout.D(), WriteTimeout: c.WriteTimeout.D(),
		// One quick retry: after a Redis restart every pooled connection
		// is dead, and each would otherwise fail one call. A dead server
		// still costs at most the caller's deadline.
		MaxRetries: 1, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 10 * time.Millisecond,
		// Honour the caller's context deadline over the read/write
		// timeouts: a hook's deadline bounds every call.
		ContextTimeoutEnabled: true,
	}
	return redis.NewUniversalClient(o)
}
