// Package throttle is the Lua module "throttle": rate limits shared by
// every node through Redis, or kept in this node (core/throttle).
//
//	local throttle = require("throttle")
//	local ok, retry_after = throttle.check("tenant:" .. t, "500/h")
//	if not ok then
//	  return smtp.reply(450, "4.7.1", "sending limit reached, retry in " .. math.ceil(retry_after) .. "s")
//	end
//
// check counts one event for the key and returns whether it passed and,
// when not, the seconds until one would (0 when it passed). Rates are
// "N/s", "N/min" or "N/h": N at once, then one every period/N. Keys
// starting with "local:" stay in the node; others are shared when the
// daemon has a [redis] section. A malformed rate is an error, and so is
// an unreachable Redis unless [throttle] on_redis_error = "fail_open":
// the hook then fails with 451 4.3.0 unless the script uses pcall.
package throttle
