package sendmail

import (
	"bufio"
	"io"
	"strings"
)

// Input streams standard input as the message: a leading mbox "From "
// line is dropped, and unless ignDots a line holding only "." ends the
// input. A read error other than EOF is returned again on every later
// Read and kept in Err, so a truncated message never looks complete.
type Input struct {
	br      *bufio.Reader
	ignDots bool
	first   bool
	mid     bool // inside a line longer than the buffer
	done    bool
	buf     []byte
	err     error
}

// NewInput reads the message from r.
func NewInput(r io.Reader, ignDots bool) *Input {
	return &Input{br: bufio.NewReaderSize(r, 64<<10), ignDots: ignDots, first: true}
}

// Err is the read error that ended the input, nil after a clean end.
func (r *Input) Err() error { return r.err }

func (r *Input) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done && r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// fill reads the next line (or the next buffer of a long one) into buf.
func (r *Input) fill() {
	line, err := r.br.ReadSlice('\n')
	mid := r.mid
	r.mid = err == bufio.ErrBufferFull
	if r.mid || mid {
		r.first = false
		r.buf = append(r.buf[:0], line...)
		return
	}
	first := r.first
	r.first = false
	switch {
	case err != nil && err != io.EOF:
		r.err, r.done = err, true
		return
	case err == io.EOF:
		r.done = true
	}
	trimmed := strings.TrimRight(string(line), "\r\n")
	if first && strings.HasPrefix(trimmed, "From ") {
		return
	}
	if !r.ignDots && trimmed == "." && len(line) > 1 {
		r.done = true
		return
	}
	r.buf = append(r.buf[:0], line...)
}
