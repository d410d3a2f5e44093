package config

import (
	"fmt"
	"time"
)

// Redis is the [redis] section: the server that shared throttles, the
// "redis" Lua module and lookup.redis tables use. Without addresses
// every throttle is node-local and the redis module is unavailable.
type Redis struct {
	// addresses: one "host:port" for a single server, several for a
	// Cluster, or the Sentinels when master_name is set.
	Addresses  []string `toml:"addresses"`
	MasterName string   `toml:"master_name"` // Sentinel: the monitored master's name
	Username   string   `toml:"username"`    // ACL user (Redis 6+); default none
	Password   string   `toml:"password"`
	Database   int      `toml:"database"`  // SELECT n on a single server; default 0
	PoolSize   int      `toml:"pool_size"` // connections per node; default 10 per CPU
	// Timeouts of one connection attempt and of one reply; a hook's own
	// deadline is honoured when it is shorter.
	DialTimeout  Duration `toml:"dial_timeout"`  // default 1s
	ReadTimeout  Duration `toml:"read_timeout"`  // default 500ms
	WriteTimeout Duration `toml:"write_timeout"` // default 500ms
}

// Throttle is the [throttle] section.
type Throttle struct {
	// on_redis_error: what a shared throttle check does when Redis is
	// unreachable or slower than redis_timeout: "fail_closed" (the
	// default: an error, which a hook turns into 451 4.3.0) or
	// "fail_open" (decide with this node's own limit for the key).
	OnRedisError string `toml:"on_redis_error"`
	// redis_timeout bounds one shared check; default 250ms.
	RedisTimeout Duration `toml:"redis_timeout"`
	// local_keys bounds the node-local keys kept in memory; default 100000.
	LocalKeys int `toml:"local_keys"`
}

// SQL is one [[sql]] database, which scripts name in sql.query and
// lookup.sql.
type SQL struct {
	Name   string `toml:"name"`   // what scripts call it
	Driver string `toml:"driver"` // "sqlite" or "postgres"
	// dsn: a file name or "file:" URI for sqlite (relative to the
	// daemon's working directory), a postgres:// URL or key=value string
	// for PostgreSQL.
	DSN string `toml:"dsn"`
	// Pool limits: open connections (default 10), idle ones kept
	// (default 2) and how long one connection is reused (default 30m).
	MaxOpen         int      `toml:"max_open"`
	MaxIdle         int      `toml:"max_idle"`
	ConnMaxLifetime Duration `toml:"conn_max_lifetime"`
	// timeout bounds one query when the hook's deadline is longer; default 1s.
	Timeout Duration `toml:"timeout"`
}

func defDur(d *Duration, def time.Duration) {
	if *d <= 0 {
		*d = Duration(def)
	}
}

func defInt(n *int, def int) {
	if *n <= 0 {
		*n = def
	}
}

func (c *Config) finishShared() {
	defDur(&c.Redis.DialTimeout, time.Second)
	defDur(&c.Redis.ReadTimeout, 500*time.Millisecond)
	defDur(&c.Redis.WriteTimeout, 500*time.Millisecond)
	if c.Throttle.OnRedisError == "" {
		c.Throttle.OnRedisError = "fail_closed"
	}
	defDur(&c.Throttle.RedisTimeout, 250*time.Millisecond)
	defInt(&c.Throttle.LocalKeys, 100000)
	for i := range c.SQL {
		s := &c.SQL[i]
		defInt(&s.MaxOpen, 10)
		defInt(&s.MaxIdle, 2)
		defDur(&s.ConnMaxLifetime, 30*time.Minute)
		defDur(&s.Timeout, time.Second)
	}
}

func (c *Config) validateShared(p *problems) {
	checkAddrs(p.bad, "redis.addresses", c.Redis.Addresses)
	if c.Redis.Database < 0 || c.Redis.Database > 0 && len(c.Redis.Addresses) > 1 && c.Redis.MasterName == "" {
		p.bad("redis.database", "must be 0 with a Cluster (several addresses), got %d", c.Redis.Database)
	}
	oneOf(p, "throttle.on_redis_error", c.Throttle.OnRedisError, "fail_closed", "fail_open")
	seen := map[string]bool{}
	for i, s := range c.SQL {
		key := fmt.Sprintf("sql[%d]", i)
		if s.Name == "" || seen[s.Name] {
			p.bad(key+".name", "needs a unique name, got %q", s.Name)
		}
		seen[s.Name] = true
		oneOf(p, key+".driver", s.Driver, "sqlite", "postgres")
		if s.DSN == "" {
			p.bad(key+".dsn", "is empty")
		}
	}
}
