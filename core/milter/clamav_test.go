package milter

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

// eicar is the anti-virus test file; its signature below is the only
// one the test's clamd knows, so no database is downloaded.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// startDaemon runs one of ClamAV's daemons in the foreground, in its own
// process group, stopped when the test ends.
func startDaemon(t *testing.T, bin string, args ...string) (chan error, *strings.Builder) {
	t.Helper()
	out := &strings.Builder{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return exited, out
}

// startClamAV runs Debian's clamd with an EICAR-only signature database
// in a temp dir, and clamav-milter in front of it on a loopback port;
// it returns the milter's address. It skips when ClamAV is missing.
func startClamAV(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"/usr/sbin/clamd", "/usr/sbin/clamav-milter"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skip("SKIP: ClamAV not installed (Debian packages clamav-daemon and clamav-milter, see .ci/install-deps)")
		}
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "db"), 0o755))
	sig := "Eicar-Test-Signature:0:*:" + hex.EncodeToString([]byte(eicar)) + "\n"
	must(t, os.WriteFile(filepath.Join(dir, "db", "eicar.ndb"), []byte(sig), 0o644))
	sock := filepath.Join(dir, "clamd.sock")
	must(t, os.WriteFile(filepath.Join(dir, "clamd.conf"), []byte(fmt.Sprintf(
		"LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nLogFile %s\nTemporaryDirectory %s\n",
		sock, filepath.Join(dir, "db"), filepath.Join(dir, "clamd.log"), dir)), 0o644))
	exited, out := startDaemon(t, "/usr/sbin/clamd", "-c", filepath.Join(dir, "clamd.conf"))
	waitSocket(t, sock, exited, out)

	port := freePort(t)
	must(t, os.WriteFile(filepath.Join(dir, "milter.conf"), []byte(fmt.Sprintf(
		"MilterSocket inet:%s@127.0.0.1\nClamdSocket unix:%s\nForeground yes\nLogFile %s\nOnInfected Reject\nAddHeader Replace\n",
		port, sock, filepath.Join(dir, "milter.log"))), 0o644))
	exited, out = startDaemon(t, "/usr/sbin/clamav-milter", "-c", filepath.Join(dir, "milter.conf"))
	waitListen(t, "127.0.0.1:"+port, exited, out)
	return "inet:127.0.0.1:" + port
}

func waitSocket(t *testing.T, path string, exited chan error, out *strings.Builder) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("clamd exited: %v\n%s", err, out)
		default:
		}
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("clamd did not make %s within a minute\n%s", path, out)
}

// TestClamAV: Debian's clamav-milter in front of clamd, offline with an
// EICAR-only database. Over SMTP (the milter called live) a message
// carrying EICAR is refused at the end of DATA and clean mail on the
// same connection is queued with ClamAV's headers; a local submission
// (the conversation replayed in cleanup) is refused the same way.
func TestClamAV(t *testing.T) {
	addr := startClamAV(t)
	cfg := Config{Name: "clamav", Address: addr, Local: true, Smtpd: true,
		CommandTimeout: 30 * time.Second, MessageTimeout: time.Minute}
	ls := startLive(t, cfg)
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	if r := c.cmd("MAIL FROM:<alice@example.org>"); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("MAIL: %q\n%s", r, ls.logs)
	}
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	virus := "Subject: invoice\r\nFrom: alice@example.org\r\n\r\n" + eicar + "\r\n"
	refusal := c.want(virus+".", "5")
	if !strings.HasPrefix(refusal, "550 5.7.1 ") {
		t.Errorf("EICAR: reply %q, want a 550 5.7.1 refusal", refusal)
	}
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	id := strings.TrimPrefix(c.want("Subject: clean\r\nFrom: alice@example.org\r\n\r\nno virus here\r\n.", "250 "),
		"250 2.0.0 Ok: queued as ")
	c.want("QUIT", "221 ")
	_, content := stored(t, ls.clean, queue.Incoming, queue.ID(id))
	if !strings.Contains(content, "X-Virus-Scanned: clamav-milter") || !strings.Contains(content, "X-Virus-Status: Clean") {
		t.Errorf("clean mail lacks ClamAV's headers:\n%s", content)
	}
	if n := count(t, ls.clean, queue.Incoming); n != 1 {
		t.Errorf("%d queued, want the clean message only", n)
	}

	local := smtpEnv("bob@example.com")
	local.Client = queue.Client{Name: "localhost", Proto: "LOCAL", AuthUser: "alice"}
	_, err := ls.clean.Submit(context.Background(), local, strings.NewReader(virus))
	if got := errText(err); !strings.HasPrefix(got, "550 5.7.1 ") {
		t.Errorf("EICAR from sendmail: Submit = %q, want a 550 5.7.1 refusal", got)
	}
}
