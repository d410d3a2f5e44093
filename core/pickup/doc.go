// Package pickup moves local submissions from maildrop/ into the queue.
//
// Post is what sendmail calls, with or without a running daemon: it writes
// the message into maildrop/ with the same atomic commit as every queue
// file, so a 0 exit means the mail is on disk. The Service runs in the
// daemon: woken by fsnotify when a file appears, and by a periodic scan as
// a fallback, it reads each maildrop file as untrusted input (any local
// user can write there): no symlinks, bounded size, strict parsing, sane
// addresses. Who sent it is taken from the file's owner (fstat of the
// open file, uid to user name), never from the client fields the file
// carries: the client is always localhost, proto LOCAL, auth_user the
// owner's name. A good file goes through cleanup into incoming/ and is
// then removed; a bad one is moved to corrupt/ and logged, never deleted.
//
// Post works for a user who may write the maildrop but not read it
// (mode 1733, or 1730 with a setgid group): the new name is then made
// durable by a syncfs of the spool's file system instead of a
// directory fsync (see queue.OpenMaildrop).
package pickup
