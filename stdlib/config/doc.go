// Package config is the Lua module "config": a read-only view of the
// daemon configuration, so scripts read myhostname or mydestination from
// the same file as the engine instead of repeating them.
//
//	local config = require("config")
//	if config.myhostname == "mx1.example" then ... end
//	for _, d in ipairs(config.mydestination or {}) do ... end
//
// Writing to it raises an error: a script cannot change the daemon's
// settings, nor leave a changed value behind in one pooled state.
package config
