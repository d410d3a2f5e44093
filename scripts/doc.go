// Package scripts is the default policy shipped with moonpost, in Lua,
// and embedded in the binary. With the engine's Go defaults (myorigin
// appended to bare user names before any script, resolve.Static for
// transports) it behaves like a sensible Postfix install: local
// recipients are expanded through the aliases file (local.aliases), and
// local recipients that no alias, account or local_recipient_maps table
// knows are refused at RCPT with 550 5.1.1. The other SMTP phases have no
// handler (the engine's relay control decides), nor do auth (the
// password file decides), rewrite (myorigin is the engine's) and
// transport (resolve.Static delivers mydestination domains locally and
// everything else to the relayhost or the recipient domain's MX).
//
// When hooks.dir is not configured, the daemon loads these scripts
// straight from the binary (see FS) and writes nothing for them, so it
// starts on a full disk; an operator who wants to change the policy
// writes them out with `moonpost scripts export DIR` (see Export), sets
// hooks.dir to DIR, which is then watched and hot-reloaded.
//
// The *_test.lua files run under `go test` through hooks/luatest.
package scripts
