package main

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// Scenario 11: only root and the daemon's user reach the control socket.
// Another user is stopped by the private folder's mode and, should the
// modes be loosened by mistake, by the daemon's peer credential check.
func TestT11ControlSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root to run a client as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("SKIPPED: no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	d := newDaemon(t, "")
	d.start()

	// nobody gets a copy of the e2e.Binary and the configuration it can read,
	// and a path to the spool it can walk.
	pub, err := os.MkdirTemp("", "moonpost-pub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	bin, cfg := filepath.Join(pub, "moonpost"), filepath.Join(pub, "moonpost.toml")
	copyFile(t, e2e.Binary, bin, 0o755)
	copyFile(t, d.cfg, cfg, 0o644)
	for _, dir := range []string{pub, filepath.Dir(d.dir), d.dir} {
		os.Chmod(dir, 0o755)
	}
	asNobody := func() (int, string) {
		cmd := exec.Command(bin, "repl", "-e", "queue.delete('ALL')")
		cmd.Dir = pub
		cmd.Env = []string{"MOONPOST_CONFIG=" + cfg, "HOME=" + pub}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}

	rc, out := asNobody()
	if rc == 0 || !strings.Contains(out, "permission denied") {
		t.Fatalf("nobody through the 0700 folder: %d %s", rc, out)
	}
	private := filepath.Join(d.dir, "spool", "private")
	os.Chmod(private, 0o755)
	os.Chmod(filepath.Join(private, "control"), 0o666)
	rc, out = asNobody()
	if rc == 0 || !strings.Contains(out, "uid "+nobody.Uid+" may not use the control socket") {
		t.Fatalf("nobody with loosened modes: %d %s", rc, out)
	}
	d.waitLog("control: connection refused", 1)
	if got := d.repl("1 + 1"); got != "2" {
		t.Fatalf("root after the refusals: %q", got)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}
