package smtpd

import (
	"bytes"
	"errors"
	"io"

	"github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// errDivert is what conn.Read gives go-smtp's DATA reader, once, when the
// session takes over reading the message content (see conn.content). It
// never reaches go-smtp's command reader.
var errDivert = errors.New("smtpd: content read by the session")

// endOfData is the line that brings go-smtp's DATA reader, at the start
// of a line, to its end: "." then CRLF.
const endOfData = ".\r\n"

// content returns the reader for a DATA transaction's content, and a
// function to call once the session is done with it, before it returns
// to go-smtp.
//
// go-smtp's DATA reader takes the content one byte at a time (at 20 KiB
// that was 12 % of the daemon's CPU). When go-smtp's buffer holds none of
// the content yet — the client waited for the 354 reply, as RFC 5321
// 3.3 and RFC 2920 3.1 require — the session reads the content itself,
// straight from the connection, a run of bytes at a time, with the same
// rules: a leading "." of a line is removed (RFC 5321 4.5.2), the content
// ends at CRLF "." CRLF, and the message size limit applies. done then
// reads on to the end of the content if the session stopped short, and
// hands go-smtp's reader only the line ".\r\n", so that reader ends
// exactly where the content did; whatever the client sent after it
// (QUIT, the next MAIL) goes back to input, to reach go-smtp as command
// lines. Under TLS too: conn reads the plaintext (tls.go).
//
// Otherwise — the content already began in go-smtp's buffer or in
// input's, or anything but a DATA just answered 354 — the session reads
// r, go-smtp's own reader.
func (c *conn) content(r io.Reader) (io.Reader, func()) {
	none := func() {}
	if !c.in.data.Load() || c.last != '\n' || len(c.pend) > 0 || c.in.buffered() {
		return r, none
	}
	// Probe go-smtp's reader for one byte with the divert armed: if its
	// buffer has content, it returns that byte without reading the
	// connection; if not, its refill reads the connection and gets
	// errDivert, before its state machine moved.
	var one [1]byte
	c.divert = true
	n, err := r.Read(one[:])
	c.divert = false
	if err != errDivert {
		if n == 0 && err == nil {
			return r, none
		}
		// The content began in go-smtp's buffer (a client that did not
		// wait for 354), or the probe failed (the replies could not be
		// written): go on with go-smtp's reader, the byte it gave first.
		// A broken connection fails r's next read in turn.
		return io.MultiReader(bytes.NewReader(one[:n]), r), none
	}
	c.srv.diverted.Add(1)
	// A 32 KiB read takes a 20 KiB message in one or two reads instead
	// of the five to six of go-smtp's 4 KiB buffer.
	bp := bufpool.Get()
	cr := &contentReader{read: c.readRaw, buf: *bp}
	if max := c.cfg.MaxMessageBytes; max > 0 {
		cr.limited, cr.left = true, int64(max)
	}
	return cr, func() {
		if cr.finish() {
			c.pend = []byte(endOfData)
			c.in.data.Store(false)
			if cr.i < cr.j {
				c.in.unread(cr.buf[cr.i:cr.j])
			}
		}
		cr.buf = nil
		bufpool.Put(bp)
	}
}

// contentReader reads DATA content from the connection. Its states are
// those of go-smtp's reader (taken from net/textproto), so the two give
// the same bytes for the same input.
type contentReader struct {
	read  func([]byte) (int, error) // the connection
	buf   []byte
	i, j  int // buf[i:j] is read from the connection and not yet used
	state int
	err   error // sticky read error

	limited bool
	left    int64 // content bytes still allowed
}

const (
	stateBeginLine = iota // beginning of line; initial state; must be zero
	stateDot              // read . at beginning of line
	stateDotCR            // read .\r at beginning of line
	stateCR               // read \r (possibly at end of line)
	stateData             // reading data in middle of line
	stateEOF              // reached .\r\n end marker line
)

func (r *contentReader) Read(p []byte) (int, error) {
	if r.limited {
		if r.left <= 0 {
			return 0, smtp.ErrDataTooLarge
		}
		if int64(len(p)) > r.left {
			p = p[:r.left]
		}
	}
	n := r.decode(p)
	if r.limited {
		r.left -= int64(n)
	}
	switch {
	case r.state == stateEOF:
		return n, io.EOF
	case n == 0 && len(p) > 0:
		return 0, r.err
	}
	return n, nil
}

// decode fills p with content until p is full, the end marker, or a read
// error (left in r.err). Runs of line content are copied whole; only the
// bytes around a CR go through the state machine one at a time.
func (r *contentReader) decode(p []byte) int {
	n := 0
	for n < len(p) && r.state != stateEOF {
		if r.i == r.j && !r.fill() {
			break
		}
		if r.state == stateData {
			in := r.buf[r.i:r.j]
			run := bytes.IndexByte(in, '\r')
			if run < 0 {
				run = len(in)
			}
			m := copy(p[n:], in[:run])
			n += m
			r.i += m
			if r.i == r.j || n == len(p) {
				continue
			}
			// buf[r.i] is the CR that ended the run.
		}
		c := r.buf[r.i]
		r.i++
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
			if c == '\r' {
				r.state = stateCR
				break
			}
			r.state = stateData
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
			r.state = stateData
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			r.state = stateData
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
				break
			}
			r.state = stateData // a second CR included, as go-smtp's reader does
		case stateData:
			r.state = stateCR
		}
		p[n] = c
		n++
	}
	return n
}

// fill reads more from the connection into the empty buffer.
func (r *contentReader) fill() bool {
	if r.err != nil {
		return false
	}
	m, err := r.read(r.buf)
	r.i, r.j = 0, m
	if m == 0 && err == nil {
		err = io.ErrNoProgress
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
	}
	return m > 0
}

// finish reads to the end of the content if the session stopped short,
// without the size limit, as go-smtp does. It reports whether the end
// was found; buf[i:j] is then what the client sent after the content.
// After a read error it was not, and go-smtp's reader meets the same
// error on the connection.
func (r *contentReader) finish() bool {
	var sink [4096]byte
	for r.state != stateEOF && r.err == nil {
		r.decode(sink[:])
	}
	return r.state == stateEOF
}
