package cleanup

import (
	"bufio"
	"io"
)

// normalizer turns bare LF and bare CR into CRLF. Applied to all input,
// it makes "\n.\n", "\n.\r\n" and "\r.\r" ordinary "." lines, which the
// smtp client dot-stuffs on relay: one message in, one message out.
type normalizer struct {
	r        *bufio.Reader
	pendCR   bool    // saw CR; deciding whether LF follows
	out      [3]byte // output waiting to be returned
	head     int     // next byte of out to return
	tail     int     // end of the waiting output
	eightBit bool    // a byte >= 0x80 was seen
}

func newNormalizer(r io.Reader) *normalizer {
	return &normalizer{r: bufio.NewReaderSize(r, 32<<10)}
}

func (n *normalizer) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		if n.head < n.tail {
			p[i] = n.out[n.head]
			n.head++
			i++
			continue
		}
		n.head, n.tail = 0, 0
		c, err := n.r.ReadByte()
		if err != nil {
			if n.pendCR {
				n.pendCR = false
				n.push('\r', '\n')
				continue
			}
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		n.step(c)
	}
	return i, nil
}

// step consumes one input byte into the waiting output.
func (n *normalizer) step(c byte) {
	if c >= 0x80 {
		n.eightBit = true
	}
	if n.pendCR {
		n.pendCR = false
		n.push('\r', '\n')
		if c == '\n' {
			return // a proper CRLF
		}
	}
	switch c {
	case '\r':
		n.pendCR = true
	case '\n':
		n.push('\r', '\n')
	default:
		n.push(c)
	}
}

func (n *normalizer) push(bs ...byte) {
	n.tail += copy(n.out[n.tail:], bs)
}
