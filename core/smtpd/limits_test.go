package smtpd

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSmuggling sends end-of-data look-alikes followed by a second
// transaction's commands: only CRLF.CRLF may end the message, so there
// must be exactly one Submit, holding the smuggled text as content.
func TestSmuggling(t *testing.T) {
	for _, fake := range []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r\n.\n", "\n.\r"} {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF").Replace(fake), func(t *testing.T) {
			ts := startServer(t, func(c *Config) { c.MyNetworks = loopback })
			cl := dialReady(t, ts.smtp)
			cl.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\n")
			cl.expect("250 ")
			cl.expect("250 ")
			cl.expect("354 ")
			smuggled := "MAIL FROM:<admin@local.example>\r\nRCPT TO:<victim@remote.example>\r\nDATA\r\nSubject: forged\r\n\r\nevil\r\n"
			cl.send("Subject: real\r\n\r\nhello" + fake + smuggled + ".\r\n")
			cl.expect("250 2.0.0 Ok: queued")
			cl.cmd("QUIT").expect("221 ")

			envs, content := ts.sub.calls()
			if len(envs) != 1 {
				t.Fatalf("%d submits, want 1", len(envs))
			}
			if !strings.Contains(content[0], smuggled) {
				t.Errorf("smuggled commands not inside the message:\n%q", content[0])
			}
			// A dot after CRLF is dot-unstuffed by go-smtp (and the CR of
			// ".\r" goes with it, a net/textproto-inherited quirk); every
			// other look-alike must arrive byte for byte.
			if !strings.HasPrefix(fake, "\r\n.") && !strings.Contains(content[0], "hello"+fake+smuggled) {
				t.Errorf("bytes not passed through unchanged:\n%q", content[0])
			}
		})
	}
}

func TestPerIPConnectionLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnectionsPerIP = 2 })
	dial(t, ts.smtp).expect("220 ")
	dial(t, ts.smtp).expect("220 ")
	over := dial(t, ts.smtp)
	over.expect("421 4.7.0")
	over.expectClosed()
	if !strings.Contains(ts.logs.String(), "too many connections from your host") {
		t.Errorf("refusal not logged:\n%s", ts.logs)
	}
}

func TestOverallConnectionLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnections = 1 })
	first := dial(t, ts.smtp)
	first.expect("220 ")
	over := dial(t, ts.smtp)
	over.expect("421 4.7.0")
	over.expectClosed()
	// A slot freed is a slot usable again.
	first.cmd("QUIT").expect("221 ")
	first.expectClosed()
	waitFor(t, func() bool { ts.srv.mu.Lock(); defer ts.srv.mu.Unlock(); return len(ts.srv.conns) == 0 })
	dial(t, ts.subm).expect("220 ")
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	cl := dialReady(t, ts.smtp)
	cl.expect("421 4.4.2")
	cl.expectClosed()
}

func TestSessionTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.SessionTimeout = 300 * time.Millisecond })
	cl := dialReady(t, ts.smtp)
	// Keep the session busy: idle never fires, the total limit does.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		cl.cmd("NOOP")
		if r := cl.reply(); strings.HasPrefix(r[0], "421 4.4.2") {
			cl.expectClosed()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("session outlived SessionTimeout")
}

func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t, nil)
	idle := dialReady(t, ts.smtp)
	busy := dialReady(t, ts.smtp)
	busy.cmd("MAIL FROM:<a@b.example>").expect("250 ")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	idle.expect("421 4.3.2")
	idle.expectClosed()

	// The transaction in progress completes, then the client is let go.
	busy.cmd("RCPT TO:<x@local.example>").expect("250 ")
	busy.cmd("DATA").expect("354 ")
	busy.send("x\r\n.\r\n")
	busy.expect("250 2.0.0 Ok: queued")
	busy.expect("421 4.3.2")
	busy.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if envs, _ := ts.sub.calls(); len(envs) != 1 {
		t.Errorf("%d messages queued, want 1", len(envs))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// A message line over MaxLineLength is accepted, as Postfix does: the
// limit is for command lines; message size bounds content.
func TestDataLineLongerThanCommandLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxLineLength = 200 })
	cl := dialReady(t, ts.smtp)
	cl.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\n")
	cl.expect("250 ")
	cl.expect("250 ")
	cl.expect("354 ")
	cl.send("Subject: long\r\n\r\n" + strings.Repeat("z", 300) + "\r\n.\r\n")
	cl.expect("250 ")
	cl.send("MAIL FROM:<" + strings.Repeat("y", 300) + "@b.example>\r\n")
	cl.expect("500 5.5.0")
	envs, data := ts.sub.calls()
	if len(envs) != 1 || !strings.Contains(string(data[0]), strings.Repeat("z", 300)) {
		t.Errorf("queued %d messages", len(envs))
	}
}

// A client that stops in the middle of DATA gets one 421 4.4.2 and the
// connection closes; it used to get "451 4.3.0 queue file write error",
// which blamed the queue for the client's silence, and then a second
// reply.
func TestTimeoutInsideData(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@example.org>").expect("250 ")
	cl.cmd("RCPT TO:<b@local.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: stalled\r\n\r\npart of a body\r\n")
	cl.expect("421 4.4.2")
	cl.expectClosed()
	if envs, _ := ts.sub.calls(); len(envs) != 0 {
		t.Errorf("%d messages queued from a stalled DATA", len(envs))
	}
}
