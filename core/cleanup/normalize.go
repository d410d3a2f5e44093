package cleanup

import (
	"bytes"
	"io"

	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// normalizer turns bare LF and bare CR into CRLF. Applied to all input,
// it makes "\n.\n", "\n.\r\n" and "\r.\r" ordinary "." lines, which the
// smtp client dot-stuffs on relay: one message in, one message out.
//
// It moves whole CRLF lines (found with IndexByte) and whole runs of
// ordinary bytes at once, and only looks at bare CR and LF one by one,
// since it is on the path of every byte of every message.
type normalizer struct {
	r      io.Reader
	buf    []byte // input read but not yet consumed: buf[pos:end]
	pos    int
	end    int
	pendCR bool // the last byte consumed was a CR: is an LF next?
	eof    error
	out    [2]byte // CRLF still to emit after a split
	nOut   int
	lent   *[]byte // buf's pool entry
}

// newNormalizer reads from r through a lent buffer; release gives it
// back.
func newNormalizer(r io.Reader) *normalizer {
	bp := bufpool.Get()
	return &normalizer{r: r, buf: *bp, lent: bp}
}

// release gives the buffer back; the normalizer must not be read again.
func (n *normalizer) release() {
	if n.lent != nil {
		bufpool.Put(n.lent)
		n.lent, n.buf = nil, nil
	}
}

func (n *normalizer) Read(p []byte) (int, error) {
	w := 0
	for w < len(p) {
		if n.nOut > 0 { // finish a CRLF that did not fit
			p[w] = n.out[2-n.nOut]
			n.nOut--
			w++
			continue
		}
		if n.pos == n.end {
			if n.eof != nil || w > 0 {
				break // return what we have before blocking again
			}
			n.fill()
			continue
		}
		w += n.convert(p[w:])
	}
	if w == 0 && n.eof != nil {
		if n.pendCR {
			n.pendCR = false
			return n.emitCRLF(p), nil
		}
		return 0, n.eof
	}
	return w, nil
}

// fill reads more input.
func (n *normalizer) fill() {
	k, err := n.r.Read(n.buf)
	n.pos, n.end = 0, k
	if err != nil {
		n.eof = err
	}
}

// convert moves input to p: a run of ordinary bytes at once, or one line
// ending. It returns how many bytes it wrote.
func (n *normalizer) convert(p []byte) int {
	in := n.buf[n.pos:n.end]
	if n.pendCR {
		n.pendCR = false
		if in[0] == '\n' {
			n.pos++
		}
		return n.emitCRLF(p)
	}
	if k := n.crlfLines(p, in); k > 0 {
		return k
	}
	switch in[0] {
	case '\r':
		n.pos++
		n.pendCR = true
		return 0
	case '\n':
		n.pos++
		return n.emitCRLF(p)
	}
	run := bytes.IndexAny(in, "\r\n")
	if run < 0 {
		run = len(in)
	}
	k := copy(p, in[:run])
	n.pos += k
	return k
}

// crlfLines copies the whole lines at the start of in that already end
// in CRLF and hold no other CR, as many as fit in p: the common case,
// found with IndexByte and moved with one copy per line. It returns how
// many bytes it copied (0: the first line needs the byte-wise path).
func (n *normalizer) crlfLines(p, in []byte) int {
	w := 0
	for {
		nl := bytes.IndexByte(in, '\n')
		if nl < 1 || in[nl-1] != '\r' || nl+1 > len(p)-w || bytes.IndexByte(in[:nl-1], '\r') >= 0 {
			n.pos += w
			return w
		}
		w += copy(p[w:], in[:nl+1])
		in = in[nl+1:]
	}
}

// emitCRLF writes CRLF, holding back what does not fit in p.
func (n *normalizer) emitCRLF(p []byte) int {
	k := copy(p, "\r\n")
	if k < 2 {
		n.out, n.nOut = [2]byte{'\r', '\n'}, 2-k
	}
	return k
}
