package smtpd

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// noPause turns the error pauses off, for tests that count.
func noPause(c *Config) { c.ErrorSleepTime = -1 }

// Forty wrong passwords and then the right one used to be accepted in
// one session; now the third failure ends it with 421.
func TestAuthFailureLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = staticAuth{user: "alice", pass: "secret"}
		noPause(c)
	})
	cl := dialReady(t, ts.subm).startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	tries := 0
	for ; tries < 40; tries++ {
		r := cl.cmd("AUTH PLAIN " + b64("\x00alice\x00wrong")).reply()
		if last := r[len(r)-1]; strings.HasPrefix(last, "421 4.7.0") {
			break
		} else if !strings.HasPrefix(last, "535 5.7.8") {
			t.Fatalf("attempt %d: %q", tries+1, r)
		}
	}
	if tries+1 != 3 {
		t.Fatalf("session ended after %d failures, want 3", tries+1)
	}
	cl.expectClosed()
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "too many AUTH failures") })

	// The limit is per session: a new one may log in.
	cl2 := dialReady(t, ts.subm).startTLS()
	cl2.cmd("EHLO client.example").expect("250 ")
	cl2.cmd("AUTH PLAIN " + b64("\x00alice\x00wrong")).expect("535 ")
	cl2.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("235 ")
}

// Each failed AUTH waits ErrorSleepTime before its reply.
func TestAuthFailurePause(t *testing.T) {
	const pause = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = staticAuth{user: "alice", pass: "secret"}
		c.ErrorSleepTime = pause
	})
	cl := dialReady(t, ts.subm).startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	start := time.Now()
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00wrong")).expect("535 ")
	if d := time.Since(start); d < pause {
		t.Errorf("failed AUTH answered after %v, want at least %v", d, pause)
	}
}

// At HardErrorLimit error replies the session ends with 421 4.7.0.
func TestHardErrorLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.HardErrorLimit = 5; noPause(c) })
	cl := dialReady(t, ts.smtp)
	for i := 1; i < 5; i++ {
		cl.cmd("MAIL FROM:<a@-bad-.example>").expect("501 5.1.7")
	}
	cl.cmd("MAIL FROM:<a@-bad-.example>")
	if r := cl.reply(); !strings.HasPrefix(r[0], "501 5.1.7") {
		t.Fatalf("fifth error: %q", r)
	}
	cl.expect("421 4.7.0 Error: too many errors")
	cl.expectClosed()
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "too many errors from") })
}

// Commands pipelined after the error that reached the limit are not run.
func TestHardErrorLimitPipelined(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.HardErrorLimit = 3; noPause(c) })
	cl := dialReady(t, ts.smtp)
	cl.send(strings.Repeat("MAIL FROM:<a@-bad-.example>\r\n", 3) + "MAIL FROM:<a@b.example>\r\nNOOP\r\n")
	for i := 0; i < 3; i++ {
		cl.expect("501 5.1.7")
	}
	cl.expect("421 4.7.0")
	cl.expectClosed()
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "disconnect from") })
	if l := ts.logs.String(); !strings.Contains(l, " mail=3 ") {
		t.Errorf("commands after the limit were run:\n%s", l)
	}
}

// go-smtp's own limit on unknown commands ends in the same 421.
func TestUnknownCommandLimit(t *testing.T) {
	ts := startServer(t, noPause)
	cl := dialReady(t, ts.smtp)
	for i := 0; i < 4; i++ {
		cl.cmd("FROB").expect("500 5.5.2")
	}
	cl.expect("421 4.7.0")
	cl.expectClosed()
}

// Past SoftErrorLimit each error reply waits ErrorSleepTime.
func TestSoftErrorLimitPauses(t *testing.T) {
	const pause = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) { c.SoftErrorLimit = 1; c.ErrorSleepTime = pause })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@-bad-.example>").expect("501 ")
	start := time.Now()
	cl.cmd("MAIL FROM:<a@-bad-.example>").expect("501 ")
	if d := time.Since(start); d < pause {
		t.Errorf("second error answered after %v, want at least %v", d, pause)
	}
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
}

func TestErrorLimitDefaults(t *testing.T) {
	srv, err := New(Config{Hostname: "mx.example", Submitter: &fakeSubmitter{}, MaxMessageBytes: 1000,
		Listeners: []Listener{{Name: "smtp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := srv.config()
	if c.ErrorSleepTime != time.Second || c.SoftErrorLimit != 10 || c.HardErrorLimit != 20 ||
		c.AuthFailureLimit != 3 || c.QueueMinFree != 1500 || c.PostmasterDomain != "mx.example" {
		t.Errorf("defaults: sleep %v soft %d hard %d auth %d minfree %d postmaster %q", c.ErrorSleepTime,
			c.SoftErrorLimit, c.HardErrorLimit, c.AuthFailureLimit, c.QueueMinFree, c.PostmasterDomain)
	}
}

// A full queue file system is refused at MAIL, before any DATA, and the
// declared SIZE counts.
func TestStorageCheckAtMail(t *testing.T) {
	var free atomic.Int64
	var fail atomic.Bool
	ts := startServer(t, func(c *Config) {
		c.QueueMinFree = 100
		c.FreeSpace = func() (int64, error) {
			if fail.Load() {
				return 0, errors.New("statfs broke")
			}
			return free.Load(), nil
		}
	})
	free.Store(1000)
	cl := dialReady(t, ts.smtp)
	for _, c := range []struct {
		cmd, want string
	}{
		{"MAIL FROM:<a@b.example>", "250 "},
		{"MAIL FROM:<a@b.example> SIZE=600", "250 "},
		{"MAIL FROM:<a@b.example> SIZE=700", "452 4.3.1 Insufficient system storage"}, // not below 1000/1.5
		{"MAIL FROM:<a@b.example> SIZE=900", "452 4.3.1"},                             // leaves less than queue_minfree
	} {
		cl.cmd(c.cmd).expect(c.want)
		cl.cmd("RSET").expect("250 ")
	}
	free.Store(100)
	cl.cmd("MAIL FROM:<a@b.example>").expect("452 4.3.1")
	fail.Store(true)
	cl.cmd("MAIL FROM:<a@b.example>").expect("451 4.3.0")
	fail.Store(false)
	free.Store(1 << 30)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	if envs, _ := ts.sub.calls(); len(envs) != 0 {
		t.Errorf("submitted: %+v", envs)
	}
}

func TestSpoolFreeSpace(t *testing.T) {
	n, err := SpoolFreeSpace(t.TempDir())()
	if err != nil || n <= 0 {
		t.Errorf("SpoolFreeSpace = %d, %v", n, err)
	}
	if _, err := SpoolFreeSpace("/nonexistent/spool")(); err == nil {
		t.Error("missing directory: no error")
	}
}
