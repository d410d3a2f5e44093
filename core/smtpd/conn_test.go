package smtpd

import (
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// writeCounter counts the writes that reach the socket.
type writeCounter struct {
	net.Conn
	writes atomic.Int32
}

func (w *writeCounter) Write(b []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(b)
}

func pipeConn(t *testing.T) (*conn, *writeCounter, net.Conn) {
	t.Helper()
	local, _ := NewDomainSet("local.example")
	srv, err := New(Config{Hostname: "mx.local.example", LocalDomains: local,
		Submitter: &fakeSubmitter{}, IdleTimeout: 5 * time.Second,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Listeners: []Listener{{Name: "smtp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := net.Pipe()
	wc := &writeCounter{Conn: ours}
	c := &conn{Conn: wc, srv: srv, cfg: srv.config(), listener: &Listener{Name: "smtp"}, deadline: time.Now().Add(time.Minute)}
	t.Cleanup(func() { _ = theirs.Close(); _ = ours.Close() })
	return c, wc, theirs
}

// Replies to a pipelined group leave in one write, when the server next
// needs input, as Postfix's smtpd does.
func TestRepliesWaitForNextRead(t *testing.T) {
	c, wc, peer := pipeConn(t)
	group := []string{"250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"}
	for _, l := range group {
		if n, err := c.Write([]byte(l)); err != nil || n != len(l) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if n := wc.writes.Load(); n != 0 {
		t.Fatalf("%d writes before the next read, want 0", n)
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 512)
		n, _ := peer.Read(buf)
		got <- string(buf[:n])
		_, _ = peer.Write([]byte("Subject: x\r\n"))
	}()
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "Subject: x\r\n" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	want := group[0] + group[1] + group[2]
	if s := <-got; s != want {
		t.Fatalf("client got %q in its first read, want %q", s, want)
	}
	if n := wc.writes.Load(); n != 1 {
		t.Fatalf("%d writes for the group, want 1", n)
	}
}

// The last reply is written before the connection closes.
func TestCloseWritesPendingReply(t *testing.T) {
	c, _, peer := pipeConn(t)
	c.srv.conns[c] = struct{}{}
	c.srv.active.Add(1) // as admit does; Close releases it
	if _, err := c.Write([]byte("221 2.0.0 Bye\r\n")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- string(b)
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "221 2.0.0 Bye\r\n" {
		t.Fatalf("client got %q", s)
	}
}

// A flood of replies with no read in between is not held without bound.
func TestPendingRepliesAreBounded(t *testing.T) {
	c, wc, peer := pipeConn(t)
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	line := []byte("250 2.0.0 Ok\r\n")
	for i := 0; i < 2*maxPending/len(line); i++ {
		if _, err := c.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if wc.writes.Load() == 0 {
		t.Fatalf("%d bytes of replies held back, want at most %d", 2*maxPending, maxPending)
	}
}
