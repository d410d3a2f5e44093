// Package mailcopy copies a stored message (CRLF line endings) into a
// mailbox, a file or a command's stdin, converting line endings and
// quoting "From " lines for mbox on the way. It streams: memory use does
// not grow with the message size.
package mailcopy

import (
	"bufio"
	"bytes"
	"io"
)

// Options say how to transform the message while copying.
type Options struct {
	// LF turns CRLF line endings into LF (mbox, Maildir, most commands).
	LF bool
	// QuoteFrom prefixes ">" to every line matching /^>*From /, so an
	// mbox reader does not take it for a message separator.
	QuoteFrom bool
	// EnsureNL appends a line ending when the message does not end with
	// one, so whatever follows (the blank mbox separator) starts a line.
	EnsureNL bool
}

// Copy writes src to dst transformed by opts and returns the number of
// bytes written. Lines longer than the internal buffer are copied in
// pieces; a CR split from its LF across pieces is still converted.
func Copy(dst io.Writer, src io.Reader, opts Options) (int64, error) {
	cw := &countWriter{w: dst}
	bw := bufio.NewWriterSize(cw, 64<<10)
	br := bufio.NewReaderSize(src, 64<<10)
	c := copier{w: bw, opts: opts, bol: true}
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			c.chunk(chunk)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return cw.n, err
		}
	}
	c.finish()
	err := bw.Flush()
	return cw.n, err
}

// copier carries line state between chunks. Writes go to a bufio.Writer
// whose error is sticky and reported by Flush, so chunk ignores them.
type copier struct {
	w         *bufio.Writer
	opts      Options
	bol       bool // the next byte starts a line
	pendingCR bool // a CR ended the previous chunk; its LF may follow
	wrote     bool // anything was written
}

func (c *copier) chunk(b []byte) {
	c.wrote = true
	if c.pendingCR {
		c.pendingCR = false
		if b[0] != '\n' {
			c.w.WriteByte('\r')
		}
	}
	if c.bol && c.opts.QuoteFrom && isFromLine(b) {
		c.w.WriteByte('>')
	}
	n := len(b)
	switch {
	case c.opts.LF && n >= 2 && b[n-1] == '\n' && b[n-2] == '\r':
		c.w.Write(b[:n-2])
		c.w.WriteByte('\n')
	case c.opts.LF && b[n-1] == '\r':
		c.w.Write(b[:n-1])
		c.pendingCR = true
	default:
		c.w.Write(b)
	}
	c.bol = b[n-1] == '\n'
}

func (c *copier) finish() {
	if c.pendingCR {
		c.w.WriteByte('\r')
	}
	if c.opts.EnsureNL && c.wrote && !c.bol {
		if c.opts.LF {
			c.w.WriteByte('\n')
		} else {
			c.w.WriteString("\r\n")
		}
	}
}

// isFromLine reports whether line matches /^>*From /.
func isFromLine(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From "))
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
