// Package local is the local(8) delivery agent: it delivers mail for
// addresses in the local domains to mailboxes, files and commands, after
// alias expansion.
//
// For each recipient it asks policy.Aliases (the Lua "alias" hook, or an
// aliases(5) file from package aliases) for the local part, then for the
// local part without its "+extension". Targets are local addresses
// (expanded again, here), remote addresses (handed to the Forwarder,
// which resubmits a new message through cleanup), "|command",
// "/file" and ":include:/file". A target naming the alias itself means
// the alias's own mailbox.
//
// A route's transport options may set "mailbox" (an absolute Maildir
// "dir/" or mbox path for the recipient itself, confined to
// Config.MailboxDirs: virtual mailboxes of a hosting provider) and
// "size_limit" (bytes; a larger message fails with 552 5.2.3). Any other
// option, or one that does not parse, defers the request with 4.3.5; a
// mailbox path outside MailboxDirs or with ".." fails with 5.7.1.
//
// Expansion is bounded in depth and size; a
// cycle, or a Delivered-To header already naming the address, fails the
// recipient with 554 5.4.6.
//
// Reads: the queued message (CRLF), alias sources, :include: files.
// Writes: Maildirs (tmp/ then new/, file and directory fsynced) and mbox
// files (dot-lock plus flock, From_ line, ">From " quoting, fsync), both
// with LF line endings and "Return-Path:" and "Delivered-To:" prepended;
// command stdin. Commands run as "/bin/sh -c TEXT" with the admin's text;
// addresses reach them only through the environment.
//
// Failure: a full disk (ENOSPC) defers (452 4.3.1), a quota or file size
// limit bounces (552 5.2.2), as Postfix does; every other write,
// permission, lock or lookup problem defers. Refused targets (a command
// or file not permitted, an include outside IncludeDirs) bounce with
// 5.7.1 before any copy is written. Commands map exit codes through
// deliver.ExitStatus. A recipient with several destinations is deferred
// if any is, else failed if any failed: a retry may then deliver again to
// the destinations that already succeeded, as with Postfix.
package local
