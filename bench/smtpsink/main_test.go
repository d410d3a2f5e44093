package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// session drives serve over a pipe: it writes in, then reads every reply
// until the server closes.
func session(t *testing.T, c *counter, in string) string {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { serve(server, c); close(done) }()
	go func() { _, _ = io.WriteString(client, in) }()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(client)
	client.Close()
	<-done
	return string(out)
}

func newCounter() *counter {
	return &counter{seen: map[string]int{}, done: make(chan struct{}), conns: map[string]int{}}
}

// A pipelined transaction is counted by recipient, its Message-ID kept
// even behind a dot-stuffed line and a line longer than the buffer, and
// a second copy is reported as a duplicate.
func TestSinkCountsAndSpotsDuplicates(t *testing.T) {
	c := newCounter()
	long := strings.Repeat("x", 100<<10)
	msg := "Message-ID: <1@x>\r\nSubject: s\r\n\r\n..dot\r\n" + long + "\r\n.\r\n"
	out := session(t, c, "EHLO me\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n"+msg+
		"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"+msg+"QUIT\r\n")
	if strings.Count(out, "250 2.0.0 Ok: queued") != 2 || !strings.HasSuffix(out, "221 2.0.0 Bye\r\n") {
		t.Fatalf("replies:\n%s", out)
	}
	if c.n != 3 || c.dups != 1 {
		t.Fatalf("n=%d dups=%d, want 3 recipients and 1 duplicate", c.n, c.dups)
	}
}

// Garbage and commands out of order get errors, count nothing, and do
// not stop the session; a connection cut in the middle of content counts
// nothing.
func TestSinkRefusesGarbage(t *testing.T) {
	c := newCounter()
	out := session(t, c, "\x00\xff junk\r\nDATA\r\nRCPT TO:<x@y>\r\nMAIL FROM:<a@b>\r\nDATA\r\nNOOP\r\nRSET\r\nQUIT\r\n")
	br := bufio.NewReader(strings.NewReader(out))
	var codes []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			break
		}
		codes = append(codes, l[:3])
	}
	want := "220 502 503 503 250 503 250 250 221"
	if got := strings.Join(codes, " "); got != want {
		t.Fatalf("codes %q, want %q", got, want)
	}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { serve(server, c); close(done) }()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	_, _ = io.WriteString(client, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nMessage-ID: <2@x>\r\n\r\ncut off")
	client.Close()
	<-done
	if c.n != 0 {
		t.Fatalf("counted %d", c.n)
	}
}

// FuzzReadData: any content ends at the lone dot or at end of input,
// without panicking, and what follows the dot is left unread.
func FuzzReadData(f *testing.F) {
	f.Add("Message-ID: <a@b>\r\n\r\nbody\r\n.\r\nQUIT\r\n")
	f.Add(".\r\n")
	f.Add("..\r\n.\n")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), 16)
		_, _, ok := readData(br, "dkim-signature")
		rest, _ := io.ReadAll(br)
		if ok && !strings.HasSuffix(in[:len(in)-len(rest)], "\n") {
			t.Fatalf("stopped mid-line: %q left %q", in, rest)
		}
	})
}

func TestReadDataWantHeader(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"DKIM-Signature: v=1\r\nSubject: x\r\n\r\nbody\r\n.\r\n", true},
		{"Subject: x\r\ndkim-signature:v=1\r\n\r\n.\r\n", true},
		{"Subject: x\r\n\r\nDKIM-Signature: in the body\r\n.\r\n", false},
		{"DKIM-Signaturex: no\r\n\r\n.\r\n", false},
	} {
		_, has, ok := readData(bufio.NewReader(strings.NewReader(c.in)), "dkim-signature")
		if !ok || has != c.want {
			t.Errorf("%q: has=%v ok=%v, want has=%v", c.in, has, ok, c.want)
		}
	}
}

func TestTimeline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &counter{arrivals: []time.Time{start.Add(50 * time.Millisecond), start.Add(60 * time.Millisecond), start.Add(250 * time.Millisecond)}}
	got := string(c.timeline(start))
	want := "0.0,0\n0.1,2\n0.2,2\n0.3,3\n"
	if got != want {
		t.Errorf("timeline:\n%s\nwant\n%s", got, want)
	}
}

// The most connections open at once is kept per address: two to one
// address and one to another make a maximum of two, also after they
// closed.
func TestMaxConnsPerAddress(t *testing.T) {
	c := newCounter()
	a1, a2 := c.opened("127.0.0.10:25"), c.opened("127.0.0.10:25")
	b := c.opened("127.0.0.11:25")
	a1()
	a3 := c.opened("127.0.0.10:25")
	for _, done := range []func(){a2, a3, b} {
		done()
	}
	if c.maxConns != 2 || c.conns["127.0.0.10:25"] != 0 || c.conns["127.0.0.11:25"] != 0 {
		t.Fatalf("max %d, open %v", c.maxConns, c.conns)
	}
}
