package smtpd

import (
	"bytes"
	"strings"

	"github.com/moonpost/moonpost/core/dsn"
)

// go-smtp answers some protocol errors itself, before any Session method
// runs, and a few of its codes are not what RFC 5321 or Postfix send (502
// for a bad command sequence, 5.4.0 for an over-long line, 523 for AUTH
// without TLS). Rather than fork it, conn.Write swaps those exact reply
// lines for ours. The table is keyed on go-smtp v0.25.1's texts and the
// dialogue tests pin the result, so an upgrade that changes a text fails
// loudly instead of leaking a wrong code. TLS runs below go-smtp
// (tls.go), so this holds on encrypted connections too.
var goSMTPReplies = map[string]*dsn.Status{
	"502 5.5.1 Please introduce yourself first.":                dsn.NeedHelo,
	"502 5.5.1 Missing MAIL FROM command.":                      dsn.NeedMail,
	"502 5.5.1 Missing RCPT TO command.":                        dsn.NeedRcpt,
	"501 5.5.2 Was expecting MAIL arg syntax of FROM:<address>": dsn.BadSender,
	"501 5.5.2 Was expecting RCPT arg syntax of TO:<address>":   dsn.BadRecipient,
	"501 5.5.2 Bad command":                                     dsn.UnknownCommand,
	"500 5.4.0 Too long line, closing connection":               dsn.LineTooLong,
	"421 4.0.0 Internal server error":                           dsn.SessionPanic,
	"523 5.7.10 TLS is required":                                dsn.AuthNeedsTLS,
	"421 4.4.2 Idle timeout, bye bye":                           dsn.IdleTimeout,
	"500 5.5.4 Unknown MAIL FROM argument":                      dsn.BadSyntax.WithText("Error: unknown MAIL parameter"),
	"500 5.5.4 Unknown RCPT TO argument":                        dsn.BadSyntax.WithText("Error: unknown RCPT parameter"),
	"502 5.5.1 DATA not allowed for BINARYMIME messages":        dsn.BadSequence,
	"501 5.5.2 Domain/address argument required for HELO":       dsn.BadSyntax.WithText("Syntax: HELO hostname"),
	// go-smtp's own limit on unknown commands ends the session too.
	"500 5.5.1 Too many errors. Quiting now": tooManyErrors,
	// RFC 4954 4: a response that is not base64 is 501 5.5.2.
	"454 4.7.0 Invalid base64 data":   badBase64,
	"501 5.0.0 Negotiation cancelled": dsn.New(501, "5.7.0", "Authentication aborted"),
	"502 5.5.4 Missing parameter":     dsn.BadSyntax.WithText("Syntax: AUTH mechanism"),
}

// unrecognizedPrefix starts go-smtp's unknown-command reply, which echoes
// the client's command; we answer with fixed text instead.
const unrecognizedPrefix = "500 5.5.2 Syntax errors, "

// rewriteReply returns the replacement for one reply line written by
// go-smtp, or nil to pass b through. go-smtp flushes every reply line in
// its own Write, so b is one whole line.
func (s *Server) rewriteReply(c *conn, b []byte) []byte {
	line, ok := bytes.CutSuffix(b, []byte("\r\n"))
	if !ok || len(line) < 4 || bytes.IndexByte(line, '\n') >= 0 {
		return nil
	}
	l := string(line)
	if b := c.cfg.Banner; b != "" && l == "220 "+c.cfg.Hostname+" ESMTP Service Ready" {
		return []byte("220 " + c.cfg.Hostname + " " + b + "\r\n")
	}
	c.noteGreeting(l)
	if l == "250-CHUNKING" && c.offerTLS() {
		return []byte("250-CHUNKING\r\n250-STARTTLS\r\n") // go-smtp has no TLSConfig
	}
	st, found := goSMTPReplies[l]
	if !found && strings.HasPrefix(l, unrecognizedPrefix) {
		st, found = dsn.UnknownCommand, true
	}
	if !found {
		return nil
	}
	if st == dsn.IdleTimeout && c.expired.Load() {
		return []byte{} // the 421 has been sent already
	}
	if st == dsn.IdleTimeout && c.shed.Load() {
		st = dsn.TooManyConns // stress.go: shed for a new client
	} else if st == dsn.IdleTimeout && c.isKicked() {
		st = dsn.ShuttingDown
	}
	if st.Code == 421 || st == dsn.LineTooLong {
		s.log.Info(st.Error()+" to "+c.client(), "listener", c.listener.Name)
	}
	return []byte(st.Error() + "\r\n")
}

// noteGreeting remembers HELO vs EHLO for the Received: protocol name:
// go-smtp's EHLO reply is multi-line ("250-Hello x"), HELO's is not.
func (c *conn) noteGreeting(l string) {
	switch {
	case strings.HasPrefix(l, "250-Hello "):
		c.ehlo.Store(true)
	case strings.HasPrefix(l, "250 2.0.0 Hello "):
		c.ehlo.Store(false)
	}
}
