package smtp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	gosmtp "github.com/emersion/go-smtp"
)

// folded runs content through a lineFolder, in one piece or byte by byte.
func folded(t testing.TB, content string, limit int, oneByte bool) string {
	var out bytes.Buffer
	f := &lineFolder{w: &out, limit: limit}
	r := io.Reader(strings.NewReader(content))
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestLineFolder(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abcd\r\n", "abcd\r\n"},        // exactly the limit: unchanged
		{"abcde\r\n", "abcd\r\n e\r\n"}, // one over: CRLF SPACE, rest
		{"abcdefghij\r\n", "abcd\r\n efg\r\n hij\r\n"},
		{"abcdefg", "abcd\r\n efg"},             // no line end at the end
		{"abcdefg\nxy\n", "abcd\r\n efg\nxy\n"}, // a bare LF ends a line too
		{"ab\rcdef\r\n", "ab\rc\r\n def\r\n"},   // a lone CR is text
		{"abcd\r", "abcd\r\n"},                  // a CR at the very end is a line end
		{"Subject: abcd\r\n", "Subj\r\n ect\r\n : a\r\n bcd\r\n"},
		{"", ""},
	} {
		for _, one := range []bool{false, true} {
			if got := folded(t, c.in, 4, one); got != c.want {
				t.Errorf("%q (byte by byte %v) = %q, want %q", c.in, one, got, c.want)
			}
		}
	}
}

// FuzzLineFolder checks that no folded line is longer than the limit
// and that removing the inserted breaks gives the content back.
func FuzzLineFolder(f *testing.F) {
	for _, s := range []string{"abcdefghij\r\n", "a\rb\r\n", ".abcdefgh\r\n", "\r\r\n\n"} {
		f.Add(s, uint8(4))
	}
	f.Fuzz(func(t *testing.T, s string, limit uint8) {
		if limit < 2 || strings.Contains(s, "\r\n ") || strings.Contains(s, "\n ") {
			return // a break already in the content cannot be told apart
		}
		lim := int(limit)
		for _, one := range []bool{false, true} {
			got := folded(t, s, lim, one)
			for _, line := range strings.Split(strings.ReplaceAll(got, "\r\n", "\n"), "\n") {
				if len(line) > lim {
					t.Fatalf("%q (limit %d): line of %d octets in %q", s, lim, len(line), got)
				}
			}
			want := s
			if strings.HasSuffix(s, "\r") {
				want += "\n"
			}
			if back := strings.ReplaceAll(got, "\r\n ", ""); back != want {
				t.Fatalf("%q (limit %d): unfolded %q", s, lim, back)
			}
		}
	})
}

// TestLongLinesFoldedToRealPeer relays a message with a 5,000-octet
// header line and a 1 MB body line (one starting with a dot) to a
// go-smtp peer on loopback, which refuses any wire line over 1,000
// octets: every line arrives within 998 octets, and removing the
// inserted CRLF SPACE gives the message back exactly.
func TestLongLinesFoldedToRealPeer(t *testing.T) {
	long := strings.Repeat("0123456789", 100_000)
	orig := "From: a@src.test\r\nX-Long: " + strings.Repeat("h", 5000) + "\r\nSubject: hi\r\n\r\n" +
		"short\r\n" + long + "\r\n." + long[:2500] + "\r\n" + strings.Repeat("y", 998) + "\r\nend\r\n"
	{
		ln := listen(t, "127.0.0.1", 0)
		b := &backend{}
		serveGoSMTP(t, ln, b, func(s *gosmtp.Server) {
			// 998 octets of text, the stuffing dot (not counted by RFC
			// 5321) and CRLF, as go-smtp counts a line.
			s.MaxLineLength = 1001
			s.MaxMessageBytes = 4 << 20
		})
		e := newEnv(t, portOf(ln), nil)
		req := request("[127.0.0.1]", "x@example.test")
		req.Content = content(orig)
		res := e.agent.Deliver(context.Background(), req)
		want(t, res, 0, 250, "2.0.0", "")
		_, msgs := b.snapshot()
		if len(msgs) != 1 {
			t.Fatalf("peer got %d messages", len(msgs))
		}
		got := msgs[0].data
		for i, line := range strings.Split(got, "\r\n") {
			if len(line) > 998 {
				t.Fatalf("line %d arrived with %d octets", i, len(line))
			}
		}
		if back := strings.ReplaceAll(got, "\r\n ", ""); back != orig {
			t.Errorf("content changed beyond folding (%d octets in, %d unfolded)", len(orig), len(back))
		}
		if !strings.Contains(got, "\r\n"+strings.Repeat("y", 998)+"\r\n") {
			t.Errorf("a line of exactly 998 octets was folded")
		}
	}
}

// BenchmarkContentPath measures the content path of DATA, folding on
// and off, over a 20 KiB message of 76-octet lines.
func BenchmarkContentPath(b *testing.B) {
	line := strings.Repeat("x", 74) + "\r\n"
	body := strings.Repeat(line, 20<<10/len(line))
	for _, limit := range []int{DefaultLineLengthLimit, -1} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			bw := bufio.NewWriterSize(io.Discard, writeBufSize)
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				dw := &dotWriter{w: bw}
				fw := foldLines(dw, limit)
				io.Copy(fw, strings.NewReader(body))
				flushFolder(fw)
				dw.Close()
			}
		})
	}
}
