package milter

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"
)

// BenchmarkMilterCall is the cost of one message through one milter
// (a go-milter server on loopback that adds a header): the connection,
// the replayed phases, a 4 KiB body and the edit, without the queue write.
//
//	go test -run '^$' -bench BenchmarkMilterCall ./core/milter
func BenchmarkMilterCall(b *testing.B) {
	srv := serveB(b)
	f, err := New([]Config{{Name: "bench", Address: srv, Smtpd: true}}, "mx.example.com", nil)
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 64)
	hdr := "Subject: hello\r\nFrom: alice@example.org\r\nTo: bob@example.com\r\n\r\n"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		env := smtpEnv("bob@example.com")
		env.ID = "BENCH"
		h := parseHeader(b, hdr)
		r, v, err := f.Filter(context.Background(), env, h, strings.NewReader(body))
		if err != nil || v.Action != 0 {
			b.Fatalf("%v %+v", err, v)
		}
		io.Copy(io.Discard, r)
	}
}

func serveB(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &gomilter.Server{
		NewMilter: func() gomilter.Milter {
			return &fakeMilter{t: &fakeServer{}, eom: func(m *gomilter.Modifier) (gomilter.Response, error) {
				m.AddHeader("X-Scanned", "yes")
				return gomilter.RespAccept, nil
			}}
		},
		Actions: v2Actions,
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "inet:" + ln.Addr().String()
}

func parseHeader(b *testing.B, s string) *textproto.Header {
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		b.Fatal(err)
	}
	return &h
}

// warmUp messages go through before each measurement.
const warmUp = 5

// benchLive runs one message per iteration through a live conversation
// as smtpd holds it: MAIL, RCPT and DATA, then header, body and end of
// message through Filter. newConn opens a fresh conversation (connect
// and HELO) for every message, as a client that sends one message per
// connection does; otherwise one conversation serves every message.
func benchLive(b *testing.B, f *Filter, hdr, body string, newConn bool) {
	ctx := context.Background()
	client := smtpEnv().Client
	open := func() *Conn {
		c := f.Open(client, 25000)
		if st := c.Connect(ctx); st != nil {
			b.Fatal(st)
		}
		if st := c.Helo(ctx, "client.example.org"); st != nil {
			b.Fatal(st)
		}
		return c
	}
	c := open()
	b.ReportAllocs()
	for i := -warmUp; i < b.N; i++ {
		if i == 0 {
			b.ResetTimer()
		}
		if newConn && i > -warmUp {
			c.Close()
			c = open()
		}
		env := smtpEnv("bob@example.com")
		if st := c.Mail(ctx, env, nil); st != nil {
			b.Fatal(st)
		}
		if st := c.Rcpt(ctx, env, "bob@example.com", nil); st != nil {
			b.Fatal(st)
		}
		if st := c.Data(ctx, env); st != nil {
			b.Fatal(st)
		}
		env.ID = "BENCH"
		r, v, err := f.Filter(c.Message(ctx), env, parseHeader(b, hdr), strings.NewReader(body))
		if err != nil || v.Action != 0 {
			b.Fatalf("%v %+v", err, v)
		}
		io.Copy(io.Discard, r)
		c.Reset()
	}
	b.StopTimer()
	c.Close()
}

// BenchmarkMilterLive is the cost per message of the live conversation
// with one loopback go-milter server that adds a header: on a held
// milter connection (Message), and with a new connection per message
// (Connection).
//
//	go test -run '^$' -bench BenchmarkMilterLive ./core/milter
func BenchmarkMilterLive(b *testing.B) {
	srv := serveB(b)
	f, err := New([]Config{{Name: "bench", Address: srv, Smtpd: true}}, "mx.example.com", nil)
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 64)
	hdr := "Subject: hello\r\nFrom: alice@example.org\r\nTo: bob@example.com\r\n\r\n"
	b.Run("Message", func(b *testing.B) { benchLive(b, f, hdr, body, false) })
	b.Run("Connection", func(b *testing.B) { benchLive(b, f, hdr, body, true) })
}

// BenchmarkRspamd is the same through Debian's rspamd (milter proxy,
// self-scan, no network look-ups), one rspamd for all three: the
// replayed conversation (Call), and the live one per message on a held
// connection (Live/Message) and with a connection per message
// (Live/Connection). Each starts with a few messages unmeasured, for
// rspamd's first scans are slow.
//
//	go test -run '^$' -bench BenchmarkRspamd -benchtime 300x ./core/milter
func BenchmarkRspamd(b *testing.B) {
	addr, _ := startRspamd(b)
	f, err := New([]Config{{Name: "rspamd", Address: addr, Smtpd: true}}, "mx.example.com", nil)
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("Lunch is at noon in the usual place; bring the quarterly figures.\r\n", 64)
	hdr := "Subject: lunch\r\nFrom: alice@example.org\r\nTo: bob@example.com\r\nMessage-ID: <l@example.org>\r\n\r\n"
	call := func() {
		env := smtpEnv("bob@example.com")
		env.ID = "BENCH"
		_, v, err := f.Filter(context.Background(), env, parseHeader(b, hdr), strings.NewReader(body))
		if err != nil || v.Action != 0 {
			b.Fatalf("%v %+v", err, v)
		}
	}
	for i := 0; i < warmUp; i++ {
		call()
	}
	b.Run("Call", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			call()
		}
	})
	b.Run("Live/Message", func(b *testing.B) { benchLive(b, f, hdr, body, false) })
	b.Run("Live/Connection", func(b *testing.B) { benchLive(b, f, hdr, body, true) })
}
