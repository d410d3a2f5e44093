// Package admin is queue administration for operators: list and filter
// the queue, summarise it (like qshape), read one message, and hold,
// release, requeue, delete or bounce a selection of messages, by ID or by
// predicate, with a dry-run form of every bulk action. The REPL's Lua
// "queue" module and the moonpost queue commands both use it.
//
// Reads: the queue files, through the queue package; readers skip what
// is not committed and tolerate files that vanish (delivered meanwhile).
// Writes: nothing directly. Every change goes through the queue manager
// (qmgr.Manager.Apply), whose goroutine owns activation, so an action
// never races with a delivery: a message being delivered is marked and
// acted on when its deliveries return.
//
// Failure: an invalid queue ID is refused before it becomes a path; a
// message that disappears between selection and action is counted as
// gone, not as an error; other per-message errors are collected in the
// Result and the rest of the selection is still processed. Without a
// manager (the daemon is not running) only the read-only calls work.
package admin
