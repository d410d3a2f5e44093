// Package smtpd is moonpost's SMTP server: it receives mail from the
// network and hands each message to cleanup through the Submitter it owns.
//
// What it does: one listener per Config.Listeners entry ("smtp" on 25,
// "submission" on 587, optionally implicit TLS on 465), on top of
// emersion/go-smtp. ESMTP with PIPELINING, 8BITMIME, SIZE,
// ENHANCEDSTATUSCODES, SMTPUTF8, DSN, CHUNKING, STARTTLS when a TLS config
// is given, and AUTH PLAIN/LOGIN on submission listeners under TLS only.
// TLS runs below go-smtp (tls.go), and every command line is checked
// before go-smtp reads it (input.go, commands.go), so the same rules hold
// in the clear and under TLS.
// Relay control is engine-enforced and runs before policy.SMTP, which can
// only add rejections: a recipient in LocalDomains or RelayDomains is
// accepted from anyone, any other only from MyNetworks or an authenticated
// client; the rest is 554 5.7.1 Relay access denied.
//
// Milters (Config.Milters, milter.go) are called live, as Postfix's
// smtpd_milters: connect before the banner (a refusal there changes the
// banner, and is answered at MAIL), HELO, MAIL, RCPT after relay control
// and policy accepted it, DATA before the 354; their content phase runs
// in cleanup, through the context Submit gets.
//
// What it reads: the network, the policy (policy.SMTP, policy.Authenticator;
// PasswordFile is the default Authenticator and AllowAll the default
// policy). What it writes: nothing to disk itself. For each message it
// mints the queue ID, prepends a Received: header and streams the DATA
// bytes, unchanged, to Submitter.Submit; "250 2.0.0 Ok: queued as ID" is
// sent only after Submit returned nil, which means the queue file is
// durably committed. Logs go to log/slog in Postfix's shapes ("connect
// from", "ID: client=", "NOQUEUE: reject: RCPT from ...", "disconnect").
//
// How it fails: temporarily, whenever it is unsure. A policy or
// authenticator error is 451 4.3.0 / 454 4.7.0; a Submit error is sent as
// its dsn.Status (451 4.3.0 for a plain error); a panic in a session or in
// Submit is 421 4.3.0 and that connection is closed while the server keeps
// serving. Over a connection limit the banner is replaced by 421 4.7.0; an
// idle or overlong session gets 421 4.4.2; Shutdown lets transactions in
// progress finish, then idle clients get 421 4.3.2. A client that makes
// errors is slowed, then cut off with 421 4.7.0 (errlimit.go); MAIL gets
// 452 4.3.1 when the queue's file system is too full (diskspace.go).
// Under connection pressure (stress.go) the timeouts shrink and, at the
// limit, the idle connection that did least is shed (421 4.7.0) for a
// new client; anvil.go keeps per-client connection and failed-AUTH rates
// across sessions in memory, or, with Config.ClientRates, clientrate.go
// counts them in the throttle the nodes share.
//
// SMTP smuggling: go-smtp ends DATA only at CRLF.CRLF, and the bytes are
// passed on unchanged, so "\n.\n", "\r.\r" and similar sequences stay
// inside the message; cleanup normalises bare LF/CR to CRLF so they are
// dot-stuffed on relay. Command lines may end in a bare LF (Postfix 3.9
// smtpd_forbid_bare_newline=normalize).
//
// See docs/smtpd.md for the operator's view.
package smtpd
