// Package sql is the Lua module "sql": queries with placeholders on the
// databases configured as [[sql]] in moonpost.toml, PostgreSQL through
// pgx and SQLite through modernc.org/sqlite (no cgo).
//
//	local sql = require("sql")
//	local rows = sql.query("tenants", "SELECT name, rate FROM tenants WHERE plan = ?", "pro")
//	for _, r in ipairs(rows) do print(r.name, r.rate) end
//	local row = sql.query_row("tenants", "SELECT tenant FROM domains WHERE domain = ?", d)  -- or nil
//	local n = sql.exec("tenants", "UPDATE tenants SET seen = ? WHERE name = ?", os.time(), t)
//
// Placeholders are the driver's own: ? (or ?NNN, $NNN) for SQLite, $1,
// $2 ... for PostgreSQL, so $1, $2 ... suit both; values are passed separately, never built into
// the SQL text. Each distinct query text is prepared once per database
// and reused. Rows are tables keyed by column name; a NULL column is
// absent. A query may return at most MaxRows rows. Every call is bounded
// by the hook's deadline and the database's own timeout, whichever is
// sooner; a failed or timed-out query is a Lua error.
package sql
