package mailcopy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCopy(t *testing.T) {
	cases := []struct {
		name string
		in   string
		opts Options
		want string
	}{
		{"lf", "A: b\r\n\r\nbody\r\n", Options{LF: true}, "A: b\n\nbody\n"},
		{"keep crlf", "A: b\r\n\r\nbody\r\n", Options{}, "A: b\r\n\r\nbody\r\n"},
		{"bare cr kept", "a\rb\r\n", Options{LF: true}, "a\rb\n"},
		{"from quoting", "S: x\r\n\r\nFrom me\r\n>From you\r\n>>From x\r\nFromage\r\n From x\r\n",
			Options{LF: true, QuoteFrom: true}, "S: x\n\n>From me\n>>From you\n>>>From x\nFromage\n From x\n"},
		{"ensure nl lf", "a\r\nb", Options{LF: true, EnsureNL: true}, "a\nb\n"},
		{"ensure nl crlf", "a\r\nb", Options{EnsureNL: true}, "a\r\nb\r\n"},
		{"ensure nl empty", "", Options{LF: true, EnsureNL: true}, ""},
		{"trailing cr", "a\r", Options{LF: true}, "a\r"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		n, err := Copy(&out, strings.NewReader(c.in), c.opts)
		if err != nil || out.String() != c.want || n != int64(out.Len()) {
			t.Errorf("%s: got %q, %d, %v; want %q", c.name, out.String(), n, err, c.want)
		}
	}
}

// TestCopyLongLines crosses the buffer boundary with a CR at the edge and
// a "From " that is not at the start of a line.
func TestCopyLongLines(t *testing.T) {
	long := strings.Repeat("x", 64<<10-1) // the CR lands last in the buffer
	in := long + "\r\nFrom a\r\n" + strings.Repeat("y", 70<<10) + "From not a line start\r\n"
	want := long + "\n>From a\n" + strings.Repeat("y", 70<<10) + "From not a line start\n"
	var out bytes.Buffer
	if _, err := Copy(&out, iotest.HalfReader(strings.NewReader(in)), Options{LF: true, QuoteFrom: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("long line copy differs (len %d, want %d)", out.Len(), len(want))
	}
}

func TestCopyReadError(t *testing.T) {
	_, err := Copy(io.Discard, iotest.ErrReader(io.ErrUnexpectedEOF), Options{})
	if err != io.ErrUnexpectedEOF {
		t.Errorf("err = %v", err)
	}
}
