package smtpd

import (
	"bytes"
	"io"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// input stands between the connection and go-smtp's reader. Outside
// message content it hands go-smtp one whole command line per Read, and
// only after the line was checked (commands.go): go-smtp never holds a
// command line the session has not seen, even when the client pipelines.
// Message content — after a 354 up to the end-of-data line, and BDAT
// chunks — passes as it comes, uncounted: the command line limit is
// Postfix's line_length_limit for commands, and go-smtp's own limit,
// which would also cut message lines, is off.
//
// Because moonpost, not go-smtp, runs TLS (tls.go), what input reads is
// always the plaintext.
type input struct {
	limit int    // longest command line without its LF; <= 0: none
	buf   []byte // read from the connection, not yet handed on
	line  []byte // the rest of the checked line being handed to go-smtp
	skip  int64  // BDAT chunk bytes still to pass unchecked
	drop  int64  // bytes of a BDAT chunk answered here, to read and throw away (bdat.go)
	// data is set when the 354 reply went out: what follows is content,
	// up to the end-of-data line (eod follows go-smtp's reader to find
	// it) or the next reply.
	data atomic.Bool
	eod  int
	// tooLong is set once a command line went over the limit; the
	// connection is then closed gently (conn.Close, maybe from another
	// goroutine).
	tooLong atomic.Bool
}

// readChunk is how much input reads from the connection at a time.
const readChunk = 4096

// read is conn.Read outside the end-of-data handover.
func (in *input) read(c *conn, b []byte) (int, error) {
	for {
		if c.errs.hangup.Load() {
			return 0, io.EOF // not even what the client pipelined; Close writes the 421
		}
		if len(in.line) > 0 {
			n := copy(b, in.line)
			in.line = in.line[n:]
			return n, nil
		}
		if in.drop > 0 {
			if err := in.dropChunk(c); err != nil {
				return 0, err
			}
		}
		if in.skip > 0 || in.data.Load() {
			return in.content(c, b)
		}
		line, err := in.nextLine(c)
		if err != nil {
			return 0, err
		}
		line, err = c.checkLine(line)
		if err != nil {
			return 0, err
		}
		in.line = line // nil: answered here; read the next one
	}
}

// nextLine returns the next command line, LF included, reading more
// from the connection as needed. A line over the limit is
// smtp.ErrTooLongLine, which go-smtp answers (500 5.5.0 once rewritten)
// before it closes.
func (in *input) nextLine(c *conn) ([]byte, error) {
	for {
		if i := bytes.IndexByte(in.buf, '\n'); i >= 0 {
			if in.limit > 0 && i > in.limit {
				return nil, in.overLimit()
			}
			line := append([]byte(nil), in.buf[:i+1]...)
			in.consume(i + 1)
			return line, nil
		}
		if in.limit > 0 && len(in.buf) > in.limit {
			return nil, in.overLimit()
		}
		if err := in.fill(c); err != nil {
			return nil, err
		}
	}
}

func (in *input) overLimit() error {
	in.tooLong.Store(true)
	return smtp.ErrTooLongLine
}

// fill appends one read from the connection to buf.
func (in *input) fill(c *conn) error {
	if cap(in.buf)-len(in.buf) < readChunk {
		nb := make([]byte, len(in.buf), len(in.buf)+readChunk)
		copy(nb, in.buf)
		in.buf = nb
	}
	n, err := c.readRaw(in.buf[len(in.buf):cap(in.buf)])
	in.buf = in.buf[:len(in.buf)+n]
	if n > 0 {
		return nil // an error comes back on the next read
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// dropChunk reads and throws away in.drop bytes of input.
func (in *input) dropChunk(c *conn) error {
	for in.drop > 0 {
		if len(in.buf) == 0 {
			if err := in.fill(c); err != nil {
				return err
			}
		}
		n := int(min(int64(len(in.buf)), in.drop))
		in.consume(n)
		in.drop -= int64(n)
	}
	return nil
}

// consume drops the first n buffered bytes.
func (in *input) consume(n int) {
	in.buf = in.buf[:copy(in.buf, in.buf[n:])]
	if len(in.buf) == 0 && cap(in.buf) > 4*readChunk {
		in.buf = nil
	}
}

// unread puts bytes back in front of what is buffered: what the client
// sent after content the session read itself (content.go).
func (in *input) unread(b []byte) {
	in.buf = append(append([]byte(nil), b...), in.buf...)
}

// buffered reports whether input holds bytes go-smtp has not had.
func (in *input) buffered() bool { return len(in.buf) > 0 || len(in.line) > 0 }

// content passes message content: a BDAT chunk's bytes, or DATA content
// up to and including its end-of-data line, after which input is back
// to command lines.
func (in *input) content(c *conn, b []byte) (int, error) {
	if in.skip > 0 && int64(len(b)) > in.skip {
		b = b[:in.skip]
	}
	var n int
	if len(in.buf) > 0 {
		n = copy(b, in.buf)
		in.consume(n)
	} else {
		var err error
		if n, err = c.readRaw(b); n == 0 {
			return 0, err
		}
	}
	if in.skip > 0 {
		in.skip -= int64(n)
		return n, nil
	}
	if end := in.endOfData(b[:n]); end >= 0 {
		in.unread(b[end:n])
		in.data.Store(false)
		n = end
	}
	return n, nil
}

// endOfData runs go-smtp's end-of-data state machine (the one
// contentReader copies) over p and returns the index just past the
// end-of-data line, or -1.
func (in *input) endOfData(p []byte) int {
	for i, ch := range p {
		in.eod = nextDataState(in.eod, ch)
		if in.eod == stateEOF {
			return i + 1
		}
	}
	return -1
}

// nextDataState is one step of contentReader.decode's state machine.
func nextDataState(state int, ch byte) int {
	switch state {
	case stateBeginLine:
		switch ch {
		case '.':
			return stateDot
		case '\r':
			return stateCR
		}
	case stateDot:
		if ch == '\r' {
			return stateDotCR
		}
	case stateDotCR:
		if ch == '\n' {
			return stateEOF
		}
	case stateCR:
		if ch == '\n' {
			return stateBeginLine
		}
	case stateData:
		if ch == '\r' {
			return stateCR
		}
	}
	return stateData
}

// reply tells input which reply line went out: a 354 starts content.
func (in *input) reply(b []byte) {
	d := len(b) >= 4 && string(b[:4]) == "354 "
	if d {
		in.eod = stateBeginLine
	}
	in.data.Store(d)
}

// noteBDAT arms the chunk skip for a BDAT command whose chunk go-smtp
// will read: "BDAT size [LAST]", size parsed as go-smtp parses it.
func (in *input) noteBDAT(arg string) {
	if n, _, ok := parseBDAT(arg); ok && n > 0 {
		in.skip = n
	}
}
