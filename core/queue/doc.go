// Package queue is moonpost's mail spool: queue IDs, the queue file format,
// the queue directories, and the rules for changing them safely.
//
// One file per message, named by its ID, in one of the directories
// maildrop/ incoming/ active/ deferred/ hold/ corrupt/. A state change is a
// rename between directories. A file is committed only after it is written,
// fsynced, renamed into place and its directory fsynced; until then it is a
// dot-file that readers skip and recovery deletes (no 250 was ever given for
// it). Directory fsyncs are group-committed: concurrent commits share one.
//
// The file holds the envelope records (among them the policy's metadata,
// one "V key value" record per key, bounded by CheckMeta; a file without
// them decodes with none; and the tenant, a "G name" record checked by
// CheckTenant, absent when policy chose none), then the content, then an
// append-only journal of per-recipient outcomes (delivered, failed,
// deferred with reason, relay and bounce class), attempt counts and
// notices. Appending a record and fsyncing it is how a delivery is marked done, so after a crash nobody
// receives the message twice except recipients in flight at the crash.
//
// Start-up recovery moves active/ back to incoming/ and removes
// uncommitted temp files. A file that cannot be parsed is moved to
// corrupt/ and logged, never deleted. An entry under a queue-ID name that
// is not a regular file (symlink, FIFO, device, socket, directory) is
// never opened or followed: the daemon's listings move it to corrupt/
// with one log line, and log a name that is not a queue ID once (see
// strays.go). Deferred files carry their next
// attempt time as their modification time, so a deferred scan needs only a
// stat per file, as in Postfix.
package queue
