package app

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/throttle"
	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

// shared is the policy state the nodes of a cluster share: the Redis
// client, the throttle on it, and the SQL databases. Connections are
// made on first use, so a server that is down does not stop the daemon;
// the scripts' calls fail (temporarily) until it is back.
type shared struct {
	redis    goredis.UniversalClient // nil without [redis]
	throttle *throttle.Limiter
	sql      *stdsql.DBs
}

// redisLog sends go-redis's own messages (one per failed dial, say) to
// the daemon's log at debug level: the throttle's rate-limited warning
// is what operators see, not a line per connection attempt on stderr.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.Debug(fmt.Sprintf(format, v...), "component", "redis")
}

func openShared(cfg *config.Config, log *slog.Logger) (*shared, error) {
	goredis.SetLogger(redisLog{log})
	s := &shared{redis: throttle.NewRedisClient(cfg.Redis)}
	s.throttle = throttle.New(throttle.Options{
		Redis: s.redis, FailOpen: cfg.Throttle.OnRedisError == "fail_open",
		Timeout: cfg.Throttle.RedisTimeout.D(), MaxLocal: cfg.Throttle.LocalKeys, Logger: log,
	})
	dbs, err := stdsql.Open(cfg.SQL)
	if err != nil {
		if s.redis != nil {
			s.redis.Close()
		}
		return nil, err
	}
	s.sql = dbs
	return s, nil
}

func (s *shared) Close() {
	if s.redis != nil {
		s.redis.Close()
	}
	s.sql.Close()
}
