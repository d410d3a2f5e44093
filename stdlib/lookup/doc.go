// Package lookup is the Lua module "lookup": Postfix-style lookup tables
// read from text files, so operators keep their maps as files and
// scripts query them.
//
//	local lookup = require("lookup")
//	local virtual = lookup.file("virtual")         -- "key value" lines (postmap source)
//	local aliases = lookup.aliases("aliases")      -- aliases(5): "name: a, b, |cmd"
//	local checks  = lookup.regexp("header_checks") -- regexp_table(5): "/pattern/flags result"
//	local access  = lookup.cidr("client_access")   -- cidr_table(5): "192.0.2.0/24 REJECT"
//	local users   = lookup.passwd()                -- the system's accounts (getpwnam)
//	virtual:get("info@example.com")                -- value or nil
//	aliases:get("postmaster")                      -- {"root"} or nil
//
// Paths are relative to the scripts folder and must stay inside it or a
// configured table folder (symlinks are resolved first): scripts get
// lookups, not raw file access. Files are shared by every Lua state and
// re-read when their modification time or size changes, checked at most
// once per second per file. A reload that fails to parse keeps serving
// the previous contents; a file that is broken from the start is an
// error when the script opens it, normally at load time, which rejects
// the script generation.
//
// lookup.passwd() answers a user name with that name when the system's
// account database has it (Postfix's unix:passwd.byname), and always
// for the user the daemon runs as; names outside the portable user-name
// set (letters, digits, ".", "_", "-") are never looked up.
//
// Keys of file and aliases tables are matched case-insensitively, like
// Postfix's hash tables. Regexp tables use Go's RE2 syntax (no
// back-references) and, as in Postfix, match case-insensitively unless
// the "i" flag turns that off; "$1" in a result is replaced by the group.
package lookup
