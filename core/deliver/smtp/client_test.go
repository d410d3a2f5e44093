package smtp

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// wireFrom is a wire reading the given server output.
func wireFrom(t testing.TB, out string) wire {
	c, s := net.Pipe()
	go func() { s.Write([]byte(out)); s.Close() }()
	t.Cleanup(func() { c.Close() })
	return wire{conn: c, r: bufio.NewReaderSize(c, readBufSize), w: bufio.NewWriter(c)}
}

func TestReplyParsing(t *testing.T) {
	for _, c := range []struct {
		out   string
		code  int
		lines int
		ok    bool
	}{
		{"250 ok\r\n", 250, 1, true},
		{"250-a\r\n250-b\r\n250 c\r\n", 250, 3, true},
		{"250\r\n", 250, 1, true},
		{"354 go\n", 354, 1, true},
		{"250-a\r\n251 b\r\n", 0, 0, false}, // the code changes mid-reply
		{"25 x\r\n", 0, 0, false},
		{"650 x\r\n", 0, 0, false},
		{"250_x\r\n", 0, 0, false},
		{"\x00\xffgarbage\r\n", 0, 0, false},
		{"250 " + strings.Repeat("x", readBufSize) + "\r\n", 0, 0, false},
		{strings.Repeat("250-x\r\n", maxReplyLines+1), 0, 0, false},
		{"250-cut", 0, 0, false},
	} {
		w := wireFrom(t, c.out)
		code, lines, err := w.reply(time.Second)
		if (err == nil) != c.ok || code != c.code || len(lines) != c.lines {
			t.Errorf("%q: %d %d lines, %v", truncate(c.out, 40), code, len(lines), err)
		}
	}
}

func TestReplyToStatus(t *testing.T) {
	for _, c := range []struct {
		code      int
		msg, want string
	}{
		{250, "2.1.5 Ok", "250 2.1.5 Ok"},
		{250, "Ok: queued as X", "250 2.0.0 Ok: queued as X"},
		{451, "5.1.1 wrong class", "451 4.0.0 5.1.1 wrong class"},
		{550, "5.1.1", "550 5.1.1 "},
	} {
		if got := replyToStatus(c.code, c.msg).Error(); got != c.want {
			t.Errorf("%d %q = %q, want %q", c.code, c.msg, got, c.want)
		}
	}
}

// FuzzReply feeds arbitrary server output to the reply reader: it never
// panics, and what it accepts is a well-formed reply.
func FuzzReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n", "220\r\n", "5", "250-\r\n250 \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := wireFrom(t, s)
		code, lines, err := w.reply(time.Second)
		if err != nil {
			return
		}
		if code < 200 || code > 599 || len(lines) == 0 || len(lines) > maxReplyLines {
			t.Fatalf("%q: code %d, %d lines", s, code, len(lines))
		}
		parseEHLO(lines)
		replyToStatus(code, strings.Join(lines, " "))
	})
}
