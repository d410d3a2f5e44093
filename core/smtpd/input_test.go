package smtpd

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// scriptConn is a client that sends the given reads, then EOF, and
// swallows replies.
type scriptConn struct {
	net.Conn
	reads []string
}

func (s *scriptConn) Read(b []byte) (int, error) {
	if len(s.reads) == 0 {
		return 0, io.EOF
	}
	n := copy(b, s.reads[0])
	if s.reads[0] = s.reads[0][n:]; s.reads[0] == "" {
		s.reads = s.reads[1:]
	}
	return n, nil
}
func (s *scriptConn) Write(b []byte) (int, error)      { return len(b), nil }
func (s *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptConn) SetWriteDeadline(time.Time) error { return nil }
func (s *scriptConn) SetDeadline(time.Time) error      { return nil }

func scriptedConn(t *testing.T, reads ...string) *conn {
	t.Helper()
	srv, err := New(Config{Hostname: "mx.local.example", Submitter: &fakeSubmitter{}, MaxLineLength: 512, ErrorSleepTime: -1,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Listeners: []Listener{{Name: "smtp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &conn{Conn: &scriptConn{reads: reads}, srv: srv, cfg: srv.config(), listener: &Listener{Name: "smtp"},
		deadline: time.Now().Add(time.Minute), in: input{limit: 512}}
}

// readLines reads as go-smtp would until an error, and returns each
// Read's bytes.
func readLines(c *conn) ([]string, error) {
	var got []string
	buf := make([]byte, 4096)
	for i := 0; i < 100; i++ {
		n, err := c.Read(buf)
		if n > 0 {
			got = append(got, string(buf[:n]))
		}
		if err != nil {
			return got, err
		}
	}
	return got, errors.New("no end")
}

func TestInputLines(t *testing.T) {
	long := strings.Repeat("x", 600)
	cases := []struct {
		name  string
		reply string // written before reading, "" for none
		reads []string
		want  []string // what go-smtp gets, one Read each
		err   error
	}{
		{"one line per read", "", []string{"EHLO a\r\nMAIL FROM:<a@b>\r\n"}, []string{"EHLO a\r\n", "MAIL FROM:<a@b>\r\n"}, io.EOF},
		{"line over two reads", "", []string{"NO", "OP\r\n"}, []string{"NOOP\r\n"}, io.EOF},
		{"long command", "", []string{"MAIL FROM:<" + long + "@b>\r\n"}, nil, smtp.ErrTooLongLine},
		{"long command over two reads", "", []string{"MAIL FROM:<" + long[:300], long[300:] + "@b>\r\n"}, nil, smtp.ErrTooLongLine},
		{"long data line", "354 go", []string{long + long + "\r\n.\r\n"}, []string{long + long + "\r\n.\r\n"}, io.EOF},
		{"long line after data", "354 go", []string{"short\r\n.\r\n" + long + "\r\n"}, []string{"short\r\n.\r\n"}, smtp.ErrTooLongLine},
		{"commands after data", "354 go", []string{"a\r\n.\r\nQUIT\r\n"}, []string{"a\r\n.\r\n", "QUIT\r\n"}, io.EOF},
		{"bdat chunk", "", []string{"BDAT 1202 LAST\r\n" + long + long + "\r\n", "QUIT\r\n"},
			[]string{"BDAT 1202 LAST\r\n", long + long + "\r\n", "QUIT\r\n"}, io.EOF},
		{"bdat then long command", "", []string{"BDAT 3\r\nabcMAIL FROM:<" + long + ">\r\n"}, []string{"BDAT 3\r\n", "abc"}, smtp.ErrTooLongLine},
		{"bdat go-smtp refuses", "", []string{"BDAT\t3\r\nabcd\r\n"}, []string{"BDAT\t3\r\n", "abcd\r\n"}, io.EOF},
		{"NUL", "", []string{"HELO a\x00b\r\nNOOP\r\n"}, []string{"NOOP\r\n"}, io.EOF},
		{"postmaster", "", []string{"RCPT TO: <PostMaster> NOTIFY=NEVER\r\n"}, []string{"RCPT TO:<postmaster@mx.local.example> NOTIFY=NEVER\r\n"}, io.EOF},
		{"postmaster with domain", "", []string{"RCPT TO:<postmaster@x.example>\r\n"}, []string{"RCPT TO:<postmaster@x.example>\r\n"}, io.EOF},
		{"not postmaster", "", []string{"RCPT TO:<postmasterx>\r\n"}, []string{"RCPT TO:<postmasterx>\r\n"}, io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := scriptedConn(t, tc.reads...)
			if tc.reply != "" {
				_, _ = c.Write([]byte(tc.reply + "\r\n"))
			}
			got, err := readLines(c)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || !errors.Is(err, tc.err) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// The end-of-data scanner agrees with the content reader on where the
// content ends, whatever the bytes.
func FuzzInputEndOfData(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\nQUIT\r\n", ".\r\n", "x\n.\n\r\n.\r\nrest", "\r\r\n.\r\n", "..\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var sc input
		end := sc.endOfData(in)
		src := &scriptConn{reads: []string{string(in)}}
		total := 0
		read := func(b []byte) (int, error) { n, err := src.Read(b); total += n; return n, err }
		cr := &contentReader{read: read, buf: make([]byte, 7)}
		found := cr.finish()
		if found != (end >= 0) {
			t.Fatalf("scanner end %d, content reader found %v", end, found)
		}
		if used := total - (cr.j - cr.i); found && used != end {
			t.Fatalf("scanner ends at %d, content reader at %d", end, used)
		}
	})
}

// FuzzInputLines feeds arbitrary client bytes, in arbitrary reads, to the
// command line reader: go-smtp must only ever get whole lines, without
// NUL, within the limit (plus what the postmaster completion adds), and
// the reader must end with EOF or the too-long error.
func FuzzInputLines(f *testing.F) {
	f.Add([]byte("EHLO a\r\nRCPT TO:<postmaster>\r\nHELO \x00\r\n"), uint8(3))
	f.Add([]byte("BDAT 4 LAST\r\nabcdNOOP\r\n"), uint8(1))
	f.Add([]byte(strings.Repeat("x", 600)+"\r\n"), uint8(200))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		var reads []string
		step := int(split) + 1
		for i := 0; i < len(in); i += step {
			reads = append(reads, string(in[i:min(i+step, len(in))]))
		}
		c := scriptedConn(t, reads...)
		got, err := readLines(c)
		if !errors.Is(err, io.EOF) && !errors.Is(err, smtp.ErrTooLongLine) && err.Error() != "no end" {
			t.Fatalf("error %v", err)
		}
		for _, l := range got {
			if !strings.HasSuffix(l, "\n") || strings.Contains(l, "\x00") || len(l) > 512+1+len("@mx.local.example") {
				t.Fatalf("go-smtp got %q", l)
			}
			if len(l) >= 4 && strings.EqualFold(l[:4], "BDAT") {
				break // a chunk follows, passed as it comes (TestInputLines)
			}
		}
	})
}
