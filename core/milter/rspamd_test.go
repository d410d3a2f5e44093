package milter

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/testserver"
)

// startRspamd runs Debian's rspamd on a free loopback port and returns
// the milter address and a function that stops it; it skips the test
// when rspamd is not installed.
func startRspamd(t testing.TB) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("rspamd")
	if err != nil {
		t.Skip("SKIP: rspamd not installed (Debian package rspamd, see .ci/install-deps)")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	args, err := testserver.WriteRspamd(dir, addr)
	must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	t.Cleanup(stop)
	// Start-up compiles its rules and can take a minute on a busy host.
	deadline := time.Now().Add(4 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, testserver.RspamdLog))
			t.Fatalf("rspamd exited: %v\n%s", err, tail(string(log)))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "inet:" + addr, stop
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("rspamd did not listen within 4 minutes")
	return "", nil
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

func rspamdMessage(body string) string {
	return "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: lunch\r\n" +
		"Message-ID: <lunch.1@example.org>\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\n\r\n" + body
}

// tagJudge is a policy that tags instead of rejecting: an accepted
// message with an X-Spam header.
type tagJudge struct{}

func (tagJudge) Judge(_ context.Context, r *Result, _ *queue.Envelope, _ *textproto.Header) error {
	if r.Action == "reject" && r.Failed == "" {
		r.Action, r.Status = "accept", nil
		r.Edits = append(r.Edits, AddHeader("X-Spam", "Yes"))
	}
	return nil
}

// TestRspamd: real rspamd as a milter. GTUBE is rejected, or tagged when
// the policy says so; clean mail passes with rspamd's headers; rspamd
// down gives the default action.
func TestRspamd(t *testing.T) {
	addr, stop := startRspamd(t)
	cfg := Config{Name: "rspamd", Address: addr, CommandTimeout: 60 * time.Second, MessageTimeout: 2 * time.Minute}
	ctx := context.Background()

	c, f := setup(t, cfg)
	id, err := c.Submit(ctx, smtpEnv("bob@example.com"), strings.NewReader(rspamdMessage("See you at noon?\r\n")))
	if err != nil {
		t.Fatalf("clean mail: %v", err)
	}
	_, content := stored(t, c, queue.Incoming, id)
	for _, want := range []string{"X-Spamd-Result: default: False", "X-Rspamd-Queue-Id: " + string(id), "X-Spam-Status: No"} {
		if !strings.Contains(content, want) {
			t.Errorf("clean mail lacks %q:\n%s", want, content)
		}
	}

	_, err = c.Submit(ctx, smtpEnv("bob@example.com"), strings.NewReader(rspamdMessage(gtube+"\r\n")))
	if got := errText(err); !strings.HasPrefix(got, "554 5.7.1 ") {
		t.Errorf("GTUBE: Submit = %q, want a 554 5.7.1 reject", got)
	}

	f.Judge = tagJudge{}
	id, err = c.Submit(ctx, smtpEnv("bob@example.com"), strings.NewReader(rspamdMessage(gtube+"\r\n")))
	if err != nil {
		t.Fatalf("GTUBE with the tagging policy: %v", err)
	}
	if _, content := stored(t, c, queue.Incoming, id); !strings.Contains(content, "X-Spam: Yes\r\n") {
		t.Errorf("GTUBE not tagged:\n%s", content)
	}

	t.Run("live", func(t *testing.T) { rspamdLive(t, cfg) })

	stop() // rspamd down: its port refuses connections
	for _, def := range []DefaultAction{Tempfail, Accept, Reject} {
		down := cfg
		down.DefaultAction, down.ConnectTimeout = def, time.Second
		c, _ := setup(t, down)
		_, err := c.Submit(ctx, smtpEnv("bob@example.com"), strings.NewReader(rspamdMessage("hi\r\n")))
		want := map[DefaultAction]string{Tempfail: "451 4.7.1 Service unavailable - try again later", Accept: "",
			Reject: "550 5.7.1 Command rejected"}[def]
		if got := errText(err); got != want {
			t.Errorf("rspamd down, default_action %s: Submit = %q, want %q", def, got, want)
		}
	}
}

// rspamdLive: rspamd called live by smtpd at each phase (connect to end
// of message, the DATA event included): GTUBE is refused at the end of
// DATA with rspamd's reply, clean mail on the same connection is queued
// with rspamd's headers.
func rspamdLive(t *testing.T, cfg Config) {
	ls := startLive(t, cfg)
	c, banner := dialSMTP(t, ls.addr)
	if !strings.HasPrefix(banner, "220 ") {
		t.Fatalf("banner %q", banner)
	}
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	c.want(strings.ReplaceAll(rspamdMessage(gtube+"\r\n"), "\r\n.", "\r\n..")+".", "554 5.7.1 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	id := strings.TrimPrefix(c.want(rspamdMessage("See you at noon?\r\n")+".", "250 "), "250 2.0.0 Ok: queued as ")
	c.want("QUIT", "221 ")
	_, content := stored(t, ls.clean, queue.Incoming, queue.ID(id))
	for _, want := range []string{"X-Spamd-Result: default: False", "X-Rspamd-Queue-Id: " + id} {
		if !strings.Contains(content, want) {
			t.Errorf("clean mail lacks %q:\n%s", want, content)
		}
	}
}
