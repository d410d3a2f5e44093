// Package milter calls content filters that speak Sendmail's milter
// protocol (version 6), as Postfix's smtpd_milters and non_smtpd_milters
// do: rspamd, OpenDKIM, ClamAV's clamav-milter, SpamAssassin's milters.
//
// What it does: for mail from the network, Filter.Open gives smtpd a
// Conn per SMTP connection (live.go) that holds one connection to each
// milter whose applies_to has "smtpd" and sends each event as the client
// gets there: connect before the banner, HELO, MAIL, each RCPT, DATA.
// The first milter to refuse an event answers that command (Conn's doc
// says what each answer does at each phase, after Postfix's milter8).
// The content (header, body, end of message) then runs inside cleanup:
// Filter implements cleanup.Filter and finds the Conn in the context
// smtpd passed to Submit. Mail without a live conversation — local
// submission, for the milters whose applies_to has "local" — gets a
// fresh connection per milter in cleanup, the SMTP phases replayed
// from the envelope (session.go). Notices (bounces) and local forwards
// are never filtered.
//
// What it writes: nothing itself. Each milter's edits (headers added,
// changed, inserted or deleted, body replaced, recipients added or
// deleted, sender changed) are applied to the message cleanup is about to
// commit, after that milter's end of message and before the next milter
// sees it, so the queue file holds the filtered message. A Judge (the Lua
// "milter" event) sees each answer that is not "continue", at an SMTP
// phase or about the content, before it is applied and may change it.
//
// How it fails: a milter that cannot be reached (connect_timeout), does
// not answer an event (command_timeout) or one message's content
// (message_timeout), closes mid-message or sends what is not the
// protocol gets its default_action at that phase, like Postfix's
// milter_default_action: tempfail (451 4.7.1, the default), accept (the
// milter is skipped and none of its edits is applied) or reject (550
// 5.7.1); it is not asked again on that SMTP connection, and a tempfail
// or reject answers each later MAIL. Edits are applied only from a
// conversation that ended cleanly, so a message is never queued
// half-filtered.
package milter
