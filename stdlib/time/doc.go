// Package time is the Lua module "time": the clock, formatting and
// parsing. There is deliberately no sleep: a hook that waits holds a
// pooled state and an SMTP session hostage.
//
// Times are Unix seconds as Lua numbers (with a fraction), so they
// compare and subtract like numbers.
//
//	local time = require("time")
//	local t = time.now()                          -- 1700000000.123
//	time.format(t, "rfc5322")                     -- "Tue, 14 Nov 2023 22:13:20 +0000"
//	time.format(t, "2006-01-02", "UTC")           -- Go layouts work too
//	time.parse("Tue, 14 Nov 2023 22:13:20 +0000") -- 1700000000
package time
