package cleanup

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// normalize runs s through the normalizer twice, reading input and
// output one byte at a time and then in bulk, and insists they agree.
func normalize(s string) string {
	small, _ := io.ReadAll(iotest.OneByteReader(newNormalizer(iotest.OneByteReader(strings.NewReader(s)))))
	bulk, _ := io.ReadAll(newNormalizer(strings.NewReader(s)))
	if string(small) != string(bulk) {
		panic(fmt.Sprintf("normalizer: %q gives %q byte by byte but %q in bulk", s, small, bulk))
	}
	return string(bulk)
}

func TestNormalizer(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n":        "a\r\nb\r\n",
		"a\nb\n":            "a\r\nb\r\n",
		"a\rb\r":            "a\r\nb\r\n",
		"a\r\r\nb":          "a\r\n\r\nb",
		"x\n.\r\nMAIL":      "x\r\n.\r\nMAIL",
		"x\r.\rMAIL":        "x\r\n.\r\nMAIL",
		"x\n.\nMAIL":        "x\r\n.\r\nMAIL",
		"":                  "",
		"\r":                "\r\n",
		"no newline":        "no newline",
		"\xc3\xa9t\xc3\xa9": "\xc3\xa9t\xc3\xa9",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalizer(f *testing.F) {
	for _, s := range []string{"a\nb", "a\r\n.\r\n", "\r\r\n\n", "x\r.\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := normalize(s)
		for i := 0; i < len(out); i++ {
			if out[i] == '\n' && (i == 0 || out[i-1] != '\r') {
				t.Fatalf("bare LF at %d in %q", i, out)
			}
			if out[i] == '\r' && (i+1 >= len(out) || out[i+1] != '\n') {
				t.Fatalf("bare CR at %d in %q", i, out)
			}
		}
		if want := referenceNormalize(s); out != want {
			t.Fatalf("normalize(%q) = %q, want %q", s, out, want)
		}
		if strings.ReplaceAll(strings.ReplaceAll(out, "\r", ""), "\n", "") !=
			strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", "") {
			t.Fatal("normalizer changed non-newline bytes")
		}
	})
}

// referenceNormalize is the normaliser's rule one byte at a time: CRLF,
// a bare CR and a bare LF each become CRLF.
func referenceNormalize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			b.WriteString("\r\n")
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func BenchmarkNormalizer(b *testing.B) {
	msg := strings.Repeat("Subject: a header line of ordinary length here\r\n", 10) + "\r\n" +
		strings.Repeat("a line of body text, as long as the lines of most mail are, 72 bytes\r\n", 280)
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		n := newNormalizer(strings.NewReader(msg))
		for {
			if _, err := n.Read(buf); err != nil {
				break
			}
		}
	}
}
