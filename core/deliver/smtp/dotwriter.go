package smtp

import (
	"bufio"
	"bytes"
)

// dotWriter writes message content in DATA form: a line starting with "."
// gets another "." (RFC 5321 4.5.2) and Close adds the end marker. It
// copies whole lines at a time where net/textproto's writer goes byte by
// byte. Queue content is CRLF already (cleanup made it so); a bare LF
// still counts as a line end here, so stuffing cannot be bypassed.
type dotWriter struct {
	w   *bufio.Writer
	mid bool // inside a line: the last byte written was not LF
}

func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !d.mid && p[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return 0, err
			}
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		if _, err := d.w.Write(line); err != nil {
			return 0, err
		}
		d.mid = line[len(line)-1] != '\n'
		p = p[len(line):]
	}
	return n, nil
}

// Close ends the content (with a line break if it lacked one) and writes
// the final dot.
func (d *dotWriter) Close() error {
	if d.mid {
		d.w.WriteString("\r\n")
	}
	d.w.WriteString(".\r\n")
	return d.w.Flush()
}
