// Package lmtp is the lmtp delivery agent: it hands mail to a local
// mailbox server (Dovecot, Cyrus) over LMTP (RFC 2033), like Postfix's
// lmtp(8).
//
// What it does: connects to the next hop ("unix:/path", "inet:host:port"
// or "[host]:port"), sends LHLO, MAIL FROM, one RCPT TO per recipient and
// DATA, and reads one reply per accepted recipient after the final dot,
// so each mailbox's outcome (delivered, over quota, unknown) is its own.
// Host names in inet next hops are resolved by the system resolver:
// LMTP servers are local or on the private network, not found by MX.
//
// What it reads: the message through deliver.Content. It writes nothing.
//
// How it fails: a connection or LHLO failure gives every recipient a
// temporary status (451 4.4.1 / 4.4.2) or the server's reply; a refusal
// at RCPT or after DATA applies to its recipient only; a connection lost
// before a recipient's reply after DATA defers that recipient (a
// duplicate beats a loss). A next hop that does not parse is a
// configuration error and defers (451 4.3.5). Each delivery uses a fresh
// connection: LMTP peers are close and cheap to reach, and a fresh
// session keeps a mailbox server's per-session state out of the way.
package lmtp
