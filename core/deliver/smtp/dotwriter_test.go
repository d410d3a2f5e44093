package smtp

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"
)

func dotted(t testing.TB, content string, chunk int) string {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	d := &dotWriter{w: bw}
	r := io.Reader(strings.NewReader(content))
	if chunk == 1 {
		r = iotest.OneByteReader(r)
	}
	if _, err := io.Copy(d, r); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestDotWriter(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n":              "a\r\nb\r\n.\r\n",
		".a\r\n.\r\n..b\r\n":      "..a\r\n..\r\n...b\r\n.\r\n",
		"no end":                  "no end\r\n.\r\n",
		"":                        ".\r\n",
		"x\n.\r\n":                "x\n..\r\n.\r\n",
		"line\r\n.\r\nMAIL FROM:": "line\r\n..\r\nMAIL FROM:\r\n.\r\n",
	} {
		for _, chunk := range []int{0, 1} {
			if got := dotted(t, in, chunk); got != want {
				t.Errorf("%q (chunk %d) = %q, want %q", in, chunk, got, want)
			}
		}
	}
}

// FuzzDotWriter checks the writer against net/textproto's on CRLF
// content, and that reading it back with textproto's DotReader gives the
// content again.
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"a\r\n.b\r\n", ".\r\n", "x", "\r\n\r\n.", "..\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", "\r\n") // queue content is CRLF
		got := dotted(t, s, 1)
		var ref bytes.Buffer
		tw := textproto.NewWriter(bufio.NewWriter(&ref))
		dw := tw.DotWriter()
		io.WriteString(dw, s)
		dw.Close()
		// For empty content textproto sends a blank line before the dot;
		// a lone dot is the same empty message.
		if s != "" && got != ref.String() {
			t.Fatalf("%q: got %q, textproto %q", s, got, ref.String())
		}
		back, err := io.ReadAll(textproto.NewReader(bufio.NewReader(strings.NewReader(got))).DotReader())
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(s, "\r\n", "\n")
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if string(back) != want {
			t.Fatalf("%q read back as %q", s, back)
		}
	})
}
