// Package smtp is the smtp delivery agent: it hands a queued message to
// another mail server over SMTP, like Postfix's smtp(8).
//
// What it does: parses the next hop (see ParseNexthop), looks up the MX
// hosts of a domain (or takes a bracketed host as is), and tries their
// addresses in preference order, at most Config.MaxAddresses of them,
// until one greets with 2xx and completes EHLO (and STARTTLS under the
// TLS policy). A connection failure, a silent peer or a 4xx/5xx greeting
// moves on to the next address. On the session it sends MAIL FROM with
// SIZE, BODY, SMTPUTF8, RET and ENVID, one RCPT TO per recipient with
// NOTIFY and ORCPT when the peer offers DSN, then DATA. go-smtp's client
// does not pipeline, so commands go one by one.
//
// What it reads: the message through deliver.Content, once per attempt.
// It writes nothing; the queue manager records the results.
//
// How it fails: every recipient gets its own dsn.Status. A RCPT refusal
// applies to that recipient only; the reply to the final dot applies to
// every accepted one. When no host takes the mail, all recipients get the
// last host's failure (a connection failure is 451 4.4.1, a timeout or a
// lost connection 451 4.4.2, a 5xx greeting from the last host stays
// permanent), or the DNS outcome when the lookup itself failed. A
// message the peer cannot take is refused before MAIL: larger than its
// SIZE (552 5.3.4), SMTPUTF8 with a non-ASCII envelope to a peer without
// SMTPUTF8 (550 5.6.7), 8-bit content to a peer without 8BITMIME
// (554 5.6.3; converting to quoted-printable would change what was
// signed by DKIM, and such peers are rare, so we bounce rather than
// rewrite). A connection lost after the final dot defers: a duplicate
// beats a loss.
//
// Connection reuse: after a transaction that left the session usable,
// it is kept idle, keyed by next hop, for Config.MaxIdle; the next
// delivery to that next hop starts with RSET on it, and a session that
// fails before MAIL is accepted is dropped and a fresh one opened.
package smtp
