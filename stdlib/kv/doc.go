// Package kv is the Lua module "kv": a small key/value store shared by
// every Lua state in the process, for counters and rate limits.
//
// One Store lives as long as the hooks engine and survives script
// reloads. It is bounded (Limits): at most MaxKeys keys and MaxBytes
// bytes (keys, string values and 64 bytes per entry), a string value at
// most MaxValue bytes. When full, a few hundred entries are looked at for
// expired ones and, if that frees nothing, the set fails with an error
// rather than evicting someone else's counter. Values are strings,
// numbers or booleans. A TTL is in seconds; 0 or nil means "until
// restart". Expired entries are dropped when read, when a set needs
// room, and by a sweeper (Run) that looks at a bounded batch each
// second.
//
//	local kv = require("kv")
//	local n = kv.incr("conn:" .. s.client_addr, 1, 60) -- count per minute
//	if n > 30 then return mta.defer(421, "4.7.0", "slow down") end
//	kv.set("seen:" .. id, true, 3600); kv.get("seen:" .. id); kv.delete(k)
package kv
