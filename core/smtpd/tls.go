package smtpd

import (
	"crypto/tls"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// moonpost runs TLS itself, below go-smtp, which is configured without
// TLS and with AllowInsecureAuth (the session checks that AUTH is under
// TLS). go-smtp would put its tls.Conn on top of our conn, and
// everything conn does to the dialogue — checking command lines,
// rewriting go-smtp's reply codes, counting errors — would then see only
// ciphertext once a client said STARTTLS, the usual case on port 25 and
// the only one on submission. With TLS below go-smtp it is the same
// dialogue in the clear and under TLS.
//
// The price is that go-smtp does not know about the upgrade: it keeps
// the client's HELO name and its session. RFC 3207 4.2 wants all that
// forgotten, so after the handshake the session refuses MAIL and AUTH
// until the client greets again (it must), and that greeting runs the
// connect and HELO policy again, now with TLS, its rejection answering
// the next MAIL or AUTH (as Postfix's smtpd_delay_reject does).
type tlsState struct {
	conn *tls.Conn   // nil: plaintext; set at accept (implicit TLS) or STARTTLS
	on   atomic.Bool // the handshake completed
	dead bool        // the handshake failed: nothing more is read or written
	// needHelo is set after STARTTLS until the client greets again.
	needHelo atomic.Bool
	// greeting is set while go-smtp handles a HELO/EHLO line, so the
	// session's Reset can tell a new greeting from RSET.
	greeting bool
}

var (
	tlsReady  = dsn.New(220, "2.0.0", "Ready to start TLS")
	tlsActive = dsn.New(554, "5.5.1", "Error: TLS already active")
)

// isTLS reports whether the session is encrypted.
func (c *conn) isTLS() bool { return c.tl.on.Load() }

// offerTLS reports whether EHLO should offer STARTTLS.
func (c *conn) offerTLS() bool {
	return c.cfg.TLSConfig != nil && c.tl.conn == nil
}

// startTLS answers a STARTTLS line and, on 220, runs the handshake. The
// bytes the client sent after STARTTLS, before it could have seen the
// 220, are dropped unread: they were sent in the clear and must not
// count as said under TLS (the STARTTLS command injection of
// CVE-2011-0411).
func (c *conn) startTLS(line []byte, arg string) ([]byte, error) {
	switch {
	case c.cfg.TLSConfig == nil && c.tl.conn == nil:
		return line, nil // go-smtp: 502 5.5.1 TLS not supported
	case c.tl.conn != nil:
		c.reply(tlsActive)
		return nil, nil
	case arg != "":
		c.reply(dsn.BadSyntax.WithText("Syntax: STARTTLS"))
		return nil, nil
	case c.busy.Load():
		c.reply(dsn.BadSequence.WithText("Error: MAIL transaction in progress"))
		return nil, nil
	}
	c.reply(tlsReady)
	if c.in.buffered() {
		c.srv.log.Info("warning: "+c.client()+": discarding "+strconv.Itoa(len(c.in.buf))+" bytes sent after STARTTLS",
			"listener", c.listener.Name)
		c.in.buf = c.in.buf[:0]
	}
	if err := c.flush(c.cfg.IdleTimeout); err != nil {
		return nil, err
	}
	c.tl.conn = tls.Server(c.Conn, c.cfg.TLSConfig)
	if err := c.handshake(); err != nil {
		return nil, io.EOF // go-smtp closes without a reply
	}
	c.tl.needHelo.Store(true)
	return nil, nil
}

// handshake runs the TLS handshake under the idle and session deadlines.
func (c *conn) handshake() error {
	c.mu.Lock()
	d := time.Now().Add(c.cfg.IdleTimeout)
	if c.deadline.Before(d) {
		d = c.deadline
	}
	if c.kicked {
		d = time.Unix(1, 0)
	}
	err := c.Conn.SetDeadline(d)
	c.mu.Unlock()
	if err == nil {
		err = c.tl.conn.Handshake()
	}
	if err != nil {
		c.tl.dead = true
		c.srv.log.Info("TLS handshake failed from "+c.client(), "listener", c.listener.Name, "err", err)
		return err
	}
	c.tl.on.Store(true)
	return nil
}

// transport is what conn reads and writes the dialogue through, making
// the handshake first on an implicit-TLS connection.
func (c *conn) transport() (io.ReadWriter, error) {
	switch {
	case c.tl.conn == nil:
		return c.Conn, nil
	case c.tl.dead:
		return nil, io.EOF
	case !c.tl.on.Load():
		if err := c.handshake(); err != nil {
			return nil, io.EOF
		}
	}
	return c.tl.conn, nil
}
