// Package control is the daemon's control socket: a unix socket in the
// spool's private folder (SPOOL/private/control, folder 0700, socket
// 0600) over which moonpost repl, moonpost status and the queue commands
// talk to the running daemon.
//
// Access: the folder and socket modes keep other users out, and every
// connection's peer credentials (SO_PEERCRED) are checked as well: only
// root and the daemon's own user are served; anyone else gets one error
// frame and is disconnected. At most Server.MaxConns connections are
// served at once; more are refused the same way.
//
// Protocol: frames of a 4-byte big-endian length and a JSON object (see
// Request and Response), at most MaxFrame bytes. The server greets each
// connection with a Response (Error set when it refuses it); then every
// Request gets exactly one Response, in order.
//
// Sessions: each connection owns one Lua state (the hooks engine's REPL
// state, or a stdlib-only sandbox when no scripts are loaded) with the
// queue, hooks and config modules, used by that connection's goroutine
// only. Each chunk runs under its own deadline (Server.ChunkTimeout), so
// a runaway loop is stopped and never holds up mail; a chunk that hit
// the deadline leaves a fresh state behind, since gopher-lua does not
// promise a usable state after a cancelled call. A Lua error is returned
// with its chunk line, and the session carries on.
//
// Reads and writes the queue only through the admin package, whose
// changes go through the queue manager. Every goroutine belongs to Serve
// and ends when its context is cancelled.
package control
