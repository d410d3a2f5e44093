// Package kv is the Lua module "kv": a small key/value store shared by
// every Lua state in the process, for counters and rate limits.
//
// One Store lives as long as the hooks engine and survives script
// reloads. It is bounded: at most MaxKeys keys of at most MaxValue bytes;
// when full, expired keys are swept and, if that is not enough, the set
// fails with an error rather than evicting someone else's counter.
// Values are strings, numbers or booleans. A TTL is in seconds; 0 or nil
// means "until restart".
//
//	local kv = require("kv")
//	local n = kv.incr("conn:" .. s.client_addr, 1, 60) -- count per minute
//	if n > 30 then return mta.defer(421, "4.7.0", "slow down") end
//	kv.set("seen:" .. id, true, 3600); kv.get("seen:" .. id); kv.delete(k)
package kv
