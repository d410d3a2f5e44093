// Package lmtp is the lmtp delivery agent: it hands mail to a mailbox
// server (Dovecot, Cyrus) over LMTP (RFC 2033), like Postfix's lmtp(8).
//
// What it does: parses the next hop ("unix:/path", "inet:host:port" or
// "[host]:port") and runs the smtp package's client in LMTP mode on it,
// so LMTP gets what SMTP has: LHLO, pipelining, MAIL FROM with SIZE,
// BODY, SMTPUTF8, RET and ENVID, RCPT TO with NOTIFY and ORCPT when the
// server offers DSN, the SIZE/SMTPUTF8/8BITMIME checks, STARTTLS under
// Config.TLS (default none, as Postfix's lmtp_tls_security_level),
// line folding, and idle connections kept for reuse. After the final
// dot it reads one reply per accepted recipient, so each mailbox's
// outcome (delivered, over quota, unknown) is its own. Host names in
// inet next hops are resolved by the system resolver: LMTP servers are
// local or on the private network, not found by MX.
//
// What it reads: the message through deliver.Content. It writes nothing.
//
// How it fails: a connection or LHLO failure gives every recipient a
// temporary status (451 4.4.1 / 4.4.2) or the server's reply; a refusal
// at RCPT or after DATA applies to its recipient only; a connection lost
// before a recipient's reply after DATA defers that recipient (a
// duplicate beats a loss). A next hop that does not parse is a
// configuration error and defers (451 4.3.5). A cached connection that
// turns out dead before the content goes out is replaced by a fresh one,
// invisibly to the sender.
package lmtp
