package smtp

import (
	"bytes"
	"io"
)

// DefaultLineLengthLimit is Postfix's smtp_line_length_limit: the
// longest header or body line sent, CRLF not counted (RFC 5321
// 4.5.3.1.6 allows 998 octets of text before it).
const DefaultLineLengthLimit = 998

// lineFolder breaks lines longer than limit octets on their way to the
// peer, as Postfix's smtp client does: after limit octets it sends CRLF
// and a SPACE, and the rest of the line follows on the next line, which
// counts the SPACE. In a header that is RFC 5322 folding, so the field
// keeps its value; in a body it is the least damage a long line can
// take. Header and body are treated alike, as in Postfix. A line ends at
// CRLF or at a bare LF; a CR not followed by LF is text.
//
// It sits before dot-stuffing: a continuation line starts with SPACE and
// is never stuffed, and the stuffing dot is not part of the text line
// (RFC 5321 4.5.3.1.6 does not count it either).
type lineFolder struct {
	w     io.Writer
	limit int  // at least 2: a continuation line has its SPACE and text
	col   int  // text octets on the current output line
	cr    bool // a CR ended the last Write; the next byte says what it was
}

var foldBreak = []byte("\r\n ")

func (f *lineFolder) Write(p []byte) (int, error) {
	if col, ok := f.fits(p); ok { // the usual case: nothing to break
		n, err := f.w.Write(p)
		f.col = col
		return n, err
	}
	n := len(p)
	for len(p) > 0 {
		if f.cr {
			f.cr = false
			if p[0] == '\n' {
				if err := f.end([]byte("\r\n")); err != nil {
					return 0, err
				}
				p = p[1:]
				continue
			}
			if err := f.text([]byte{'\r'}); err != nil {
				return 0, err
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			seg := p
			if seg[len(seg)-1] == '\r' {
				seg, f.cr = seg[:len(seg)-1], true
			}
			return n, f.text(seg)
		}
		seg, eol := p[:i], p[i:i+1]
		if i > 0 && p[i-1] == '\r' {
			seg, eol = p[:i-1], p[i-1:i+1]
		}
		if err := f.text(seg); err != nil {
			return 0, err
		}
		if err := f.end(eol); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// fits reports whether p goes out unchanged, and the column after it.
// A CR at the end of p takes the slow path, which holds it back.
func (f *lineFolder) fits(p []byte) (int, bool) {
	if f.cr || len(p) > 0 && p[len(p)-1] == '\r' {
		return 0, false
	}
	col := f.col
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			col += len(p)
			return col, col <= f.limit
		}
		text := i
		if text > 0 && p[text-1] == '\r' {
			text--
		}
		if col+text > f.limit {
			return 0, false
		}
		col, p = 0, p[i+1:]
	}
	return col, true
}

// Flush ends the content: a CR held back at the very end is taken as
// the start of a line end the content lacks, and completed.
func (f *lineFolder) Flush() error {
	if !f.cr {
		return nil
	}
	f.cr = false
	return f.end([]byte("\r\n"))
}

// text writes line content, breaking it where the line is full. The
// break comes only when more text follows, so a line of exactly limit
// octets goes out unchanged.
func (f *lineFolder) text(seg []byte) error {
	for len(seg) > 0 {
		if f.col >= f.limit {
			if _, err := f.w.Write(foldBreak); err != nil {
				return err
			}
			f.col = 1
		}
		k := min(len(seg), f.limit-f.col)
		if _, err := f.w.Write(seg[:k]); err != nil {
			return err
		}
		f.col += k
		seg = seg[k:]
	}
	return nil
}

func (f *lineFolder) end(eol []byte) error {
	f.col = 0
	_, err := f.w.Write(eol)
	return err
}

// foldLines wraps w in a lineFolder, or returns w when limit is 0 or
// less (folding off, Postfix's smtp_line_length_limit = 0). The caller
// flushes the result with flushFolder before ending the data.
func foldLines(w io.Writer, limit int) io.Writer {
	if limit <= 0 {
		return w
	}
	return &lineFolder{w: w, limit: max(limit, 2)}
}

func flushFolder(w io.Writer) error {
	if f, ok := w.(*lineFolder); ok {
		return f.Flush()
	}
	return nil
}
