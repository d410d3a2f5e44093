package smtpd

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// checkLine sees every command line before go-smtp does (input.go) and
// returns the line go-smtp is to read, nil when it answered the line
// itself. It is where go-smtp's parser would otherwise do the wrong
// thing:
//
//   - a NUL byte anywhere: 500 5.5.2, and the line is never parsed, so
//     it is never echoed (go-smtp echoes HELO arguments and unknown verbs);
//   - RCPT TO:<postmaster> without a domain, which RFC 5321 4.5.1 says
//     must be accepted and go-smtp's parser refuses: completed with
//     PostmasterDomain;
//   - STARTTLS, which moonpost runs itself (tls.go);
//   - BDAT, whose chunk input must pass unchecked, and the chunks
//     after a refused one, answered here (bdat.go).
func (c *conn) checkLine(line []byte) ([]byte, error) {
	c.tl.greeting = false
	if bytes.IndexByte(line, 0) >= 0 {
		c.srv.log.Info("warning: NUL character in command from "+c.client(), "listener", c.listener.Name)
		c.reply(nulInCommand)
		return nil, nil
	}
	verb, arg := parseVerb(string(line))
	if c.chunkCommand(verb, arg) {
		return nil, nil
	}
	switch verb {
	case "HELO", "EHLO":
		c.tl.greeting = true
	case "BDAT":
		c.in.noteBDAT(arg)
	case "RCPT":
		return c.postmaster(line, arg), nil
	case "DATA":
		if st := c.milterData(); st != nil {
			c.reply(st)
			return nil, nil
		}
	case "STARTTLS":
		return c.startTLS(line, arg)
	}
	return line, nil
}

// parseVerb splits a command line as go-smtp's parseCmd does, so both
// agree on which command it is: a four-letter verb, then a space and
// the argument. Anything else is "" (go-smtp refuses it).
func parseVerb(line string) (verb, arg string) {
	line = strings.TrimRight(line, "\r\n")
	switch {
	case len(line) >= 8 && strings.EqualFold(line[:8], "STARTTLS"):
		return "STARTTLS", strings.TrimSpace(line[8:])
	case len(line) == 4:
		return strings.ToUpper(line), ""
	case len(line) < 6 || line[4] != ' ':
		return "", ""
	}
	return strings.ToUpper(line[:4]), strings.TrimSpace(line[5:])
}

// postmaster completes "RCPT TO:<postmaster>" (any case, no domain) to
// the postmaster of PostmasterDomain, keeping any parameters.
func (c *conn) postmaster(line []byte, arg string) []byte {
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return line
	}
	rest = strings.TrimSpace(rest)
	const pm = "<postmaster>"
	if len(rest) < len(pm) || !strings.EqualFold(rest[:len(pm)], pm) {
		return line
	}
	return []byte("RCPT TO:<postmaster@" + c.cfg.PostmasterDomain + ">" + rest[len(pm):] + "\r\n")
}

// reply queues one reply of our own, as if go-smtp had written it.
func (c *conn) reply(st *dsn.Status) {
	_, _ = c.Write([]byte(st.Error() + "\r\n"))
}

// Closing with unread input makes the kernel answer with a reset, which
// can destroy the last reply before the client has read it. After an
// over-long line, when the client is most likely still sending, Close
// therefore shuts the sending side, then reads and drops input for at
// most lingerTime and lingerBytes before it closes.
const (
	lingerTime  = time.Second
	lingerBytes = 16 << 20
)

// drainInput is that linger.
func (c *conn) drainInput() {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, lingerBytes))
}
