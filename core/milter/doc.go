// Package milter calls content filters that speak Sendmail's milter
// protocol (version 6), as Postfix's smtpd_milters and non_smtpd_milters
// do: rspamd, OpenDKIM, ClamAV's clamav-milter, SpamAssassin's milters.
//
// What it does: Filter implements cleanup.Filter. For each message from
// the network (env.Client.Proto is an SMTP variant) or, for milters that
// ask for it, from local submission (sendmail, the HTTP API), it holds a
// conversation with each configured milter in turn, in configuration
// order: connect, HELO, MAIL, each RCPT, the header, the body, end of
// message, with the configured macros. The whole conversation runs at
// end of data, inside cleanup, so every phase the client has already
// passed is replayed; a milter's refusal at any phase refuses the
// message. Notices (bounces) and local forwards are never filtered.
//
// What it writes: nothing itself. Each milter's edits (headers added,
// changed, inserted or deleted, body replaced, recipients added or
// deleted, sender changed) are applied to the message cleanup is about to
// commit, after that milter's end of message and before the next milter
// sees it, so the queue file holds the filtered message. A Judge (the Lua
// "milter" event) sees each milter's Result before it is applied and may
// change it.
//
// How it fails: a milter that cannot be reached, times out
// (connect_timeout, command_timeout per reply, message_timeout for the
// whole conversation), closes mid-message or sends what is not the
// protocol gets its default_action, like Postfix's milter_default_action:
// tempfail (451 4.7.1, the default), accept (the milter is skipped and
// none of its edits is applied) or reject (550 5.7.1). Edits are applied
// only from a conversation that ended cleanly, so a message is never
// queued half-filtered.
package milter
