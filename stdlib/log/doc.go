// Package log is the Lua module "log": structured log records from
// scripts, through the daemon's slog logger.
//
// Every record carries the script file and line that wrote it and the
// script generation, so a log line can be traced to the exact code that
// was live when it was written.
//
//	local log = require("log")
//	log.info("greylisted", {client = s.client_addr, ttl = 300})
//	log.debug("x"); log.warn("y"); log.error("z", {queue_id = msg.id})
package log
