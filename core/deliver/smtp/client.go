package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// The wire side of a session. The agent owns its SMTP/LMTP client: one
// buffered reader and one buffered writer per connection, every reply
// read here, so pipelining (RFC 2920) writes a whole envelope at once
// and reads the replies in order without depending on another
// library's buffering. go-smtp serves only the receiving side (smtpd)
// and the tests' peers.

const (
	// writeBufSize: whole messages of up to 32 KiB go out in one
	// write(2), envelopes always do.
	writeBufSize = 32 << 10
	// readBufSize bounds one reply line; a longer one is a protocol
	// error, as is a reply of more than maxReplyLines lines.
	readBufSize   = 4 << 10
	maxReplyLines = 200
)

// errProtocol is a reply that is not SMTP: the session cannot go on.
var errProtocol = errors.New("malformed reply")

// wire is a connection's reader and writer. They are replaced after
// STARTTLS.
type wire struct {
	conn net.Conn // what we speak on: the raw connection, or TLS over it
	r    *bufio.Reader
	w    *bufio.Writer
}

func newWire(c net.Conn) wire {
	return wire{conn: c, r: bufio.NewReaderSize(c, readBufSize), w: bufio.NewWriterSize(c, writeBufSize)}
}

// send writes one command line and flushes it, within timeout.
func (w *wire) send(timeout time.Duration, line string) error {
	w.w.WriteString(line)
	w.w.WriteString("\r\n")
	return w.flush(timeout)
}

// queue buffers one command line for a pipelined group.
func (w *wire) queue(line string) {
	w.w.WriteString(line)
	w.w.WriteString("\r\n")
}

func (w *wire) flush(timeout time.Duration) error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(timeout))
	return w.w.Flush()
}

// reply reads one reply within timeout: its code and its lines' text.
// Every line must carry the same code; "ddd-" continues, "ddd " or a
// bare "ddd" ends it.
func (w *wire) reply(timeout time.Duration) (int, []string, error) {
	_ = w.conn.SetReadDeadline(time.Now().Add(timeout))
	code := 0
	var lines []string
	for len(lines) < maxReplyLines {
		line, isPrefix, err := w.r.ReadLine()
		if err != nil {
			return 0, nil, err
		}
		if isPrefix {
			return 0, nil, fmt.Errorf("%w: line longer than %d octets", errProtocol, readBufSize)
		}
		c, more, text, ok := replyLine(string(line))
		if !ok || (code != 0 && c != code) {
			return 0, nil, fmt.Errorf("%w: %q", errProtocol, truncate(string(line), 64))
		}
		code = c
		lines = append(lines, text)
		if !more {
			return code, lines, nil
		}
	}
	return 0, nil, fmt.Errorf("%w: more than %d lines", errProtocol, maxReplyLines)
}

// replyLine splits "250-text" or "250 text".
func replyLine(l string) (code int, more bool, text string, ok bool) {
	if len(l) < 3 || l[0] < '2' || l[0] > '5' || !isDigit(l[1]) || !isDigit(l[2]) {
		return 0, false, "", false
	}
	code, _ = strconv.Atoi(l[:3])
	switch {
	case len(l) == 3:
		return code, false, "", true
	case l[3] == '-':
		return code, true, l[4:], true
	case l[3] == ' ':
		return code, false, l[4:], true
	}
	return 0, false, "", false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// status reads one reply as a dsn.Status.
func (w *wire) status(timeout time.Duration) (*dsn.Status, error) {
	code, lines, err := w.reply(timeout)
	if err != nil {
		return nil, err
	}
	return replyToStatus(code, strings.Join(lines, " ")), nil
}

// replyToStatus reads an enhanced status code at the start of the text.
func replyToStatus(code int, msg string) *dsn.Status {
	if enh, text, ok := strings.Cut(msg, " "); ok {
		if e, good := dsn.ParseEnhanced(enh); good && e[0] == code/100 {
			return dsn.New(code, enh, text)
		}
	}
	if e, good := dsn.ParseEnhanced(msg); good && e[0] == code/100 {
		return dsn.New(code, msg, "")
	}
	return dsn.New(code, "", msg)
}

// parseEHLO reads the keywords of an EHLO or LHLO reply (the first
// line is the server's name): upper-case keyword → its parameters.
func parseEHLO(lines []string) map[string]string {
	ext := make(map[string]string, len(lines))
	for _, l := range lines[1:] {
		kw, params, _ := strings.Cut(l, " ")
		ext[strings.ToUpper(kw)] = params
	}
	return ext
}
