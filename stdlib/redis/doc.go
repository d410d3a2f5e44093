// Package redis is the Lua module "redis": commands on the daemon's
// configured Redis ([redis] in moonpost.toml), through go-redis's pool.
//
//	local redis = require("redis")
//	redis.call("SET", "suppress:" .. addr, "1", "EX", 86400)
//	local n = redis.call("INCR", "seen:" .. ip)     -- 1, 2, ...
//	local v = redis.call("GET", "missing")           -- nil
//	local ok, err = pcall(redis.call, "GET", "k")    -- survive Redis being down
//
// Arguments are strings or numbers. Replies map as in Redis's own Lua:
// status and bulk replies are strings, integers numbers, a nil reply nil,
// arrays tables (with false for nil elements), maps tables keyed by field.
// A Redis error reply, an unreachable server, and the hook's deadline
// passing are Lua errors, so an unhandled failure makes the hook answer
// 451 4.3.0 rather than accept by mistake. Every call honours the hook's
// deadline. Commands that would break the shared connection pool or the
// server (SUBSCRIBE, MONITOR, MULTI, SELECT, CONFIG, FLUSHALL, ...) are
// refused.
package redis
