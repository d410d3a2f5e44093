// Package smtp is the smtp delivery agent and the one SMTP/LMTP client
// of the engine: it hands a queued message to another mail server over
// SMTP, like Postfix's smtp(8), and the lmtp agent runs it in LMTP mode
// (Config.LMTP, Agent.DeliverTo), as Postfix's smtp(8) also serves as
// lmtp(8).
//
// What it does: parses the next hop (see ParseNexthop), looks up the MX
// hosts of a domain (or takes a bracketed host as is), and tries their
// addresses in preference order, at most Config.MaxAddresses of them.
// A connection failure, a silent peer or a 4xx/5xx greeting moves on to
// the next address. A session greets, says EHLO (LHLO; HELO when EHLO is
// refused) and, under the TLS policy, STARTTLS. It then sends MAIL FROM
// with SIZE, BODY, SMTPUTF8, RET and ENVID, one RCPT TO per recipient
// with NOTIFY and ORCPT when the peer offers DSN, then DATA; when the
// peer offers PIPELINING (RFC 2920) these go out in one write and their
// replies are read in order. Content lines longer than
// Config.LineLengthLimit are broken with CRLF SPACE, as Postfix's
// smtp_line_length_limit does.
//
// The client is our own, on a bufio reader and writer per connection:
// it does not use go-smtp's client, so pipelining and STARTTLS depend on
// no other library's buffering. go-smtp serves the receiving side.
//
// What it reads: the message through deliver.Content, once per
// transaction. It writes nothing; the queue manager records the results.
//
// How it fails: every recipient gets its own dsn.Status. A 2xx or 5xx is
// final at the first server that says it. A 4xx to MAIL, RCPT, DATA or
// the final dot moves the recipients it deferred on to the next address
// in the same attempt, up to Config.MXSessionLimit sessions (Postfix's
// smtp_mx_session_limit); the last reply stays theirs. In LMTP each
// accepted recipient has its own reply after the dot. When no host
// answers, the recipients get the last failure (a connection failure is
// 451 4.4.1, a timeout or a lost connection 451 4.4.2, a 5xx greeting
// from the last host stays permanent), or the DNS outcome when the
// lookup itself failed. A message the peer cannot take is refused before
// MAIL: larger than its SIZE (552 5.3.4), SMTPUTF8 with a non-ASCII
// envelope to a peer without SMTPUTF8 (550 5.6.7), 8-bit content to a
// peer without 8BITMIME (554 5.6.3; converting to quoted-printable would
// change what was signed by DKIM, and such peers are rare, so we bounce
// rather than rewrite). A connection lost after the final dot defers
// and does not move on: a duplicate beats a loss, but the next attempt
// comes later, not at once.
//
// TLS policy (tlslevel.go, plan.go, verify.go): each delivery gets a
// TLS security level as Postfix's smtp_tls_security_level (none, may,
// encrypt, verify, secure, dane, dane-only) from the route's
// tls_security_level option, else the egress policy, else Config.TLS;
// an external policy (MTA-STS, through Config.Policy) may raise an
// opportunistic level. Per MX host it becomes the level applied: DANE
// needs DNSSEC-validated MX, address and TLSA answers (Config.DNSSEC
// trusts the resolver's AD bit) and falls back to may without them.
// Every level above may defers (4.7.4, 4.7.5) rather than send in
// plaintext. Each result carries the session's TLS outcome
// (deliver.Result.TLS), and Config.Report hears of each TLS session,
// for TLS-RPT (policyhook.go). The package knows neither how a policy
// is found nor how reports are kept: the daemon plugs core/mtasts and
// core/tlsrpt into the two hooks. The daemon's own TLS reports
// (Config.TLSReportSender) skip the external policy and are not
// reported, as RFC 8460 section 5.3 asks.
//
// Source addresses (source.go): the egress policy's Source picks a
// configured source, a pool of them (weighted round-robin) or a literal
// address; the connection is bound to it (LocalAddr, which a custom
// Dialer must honour) and says its EHLO name.
//
// Connection reuse: after a transaction that left the session usable,
// it is kept idle, keyed by next hop, source and TLS level, for
// Config.MaxIdle (or the egress policy's IdleTimeout), and closed after
// MaxDeliveriesPerConnection transactions; the next delivery to that
// next hop starts with RSET on it, and a session that fails before the
// content goes out is dropped and a fresh one opened.
package smtp
