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

	"golang.org/x/sys/unix"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// unprivileged is the uid and gid local submissions run as here
// (nobody/nogroup on Debian).
const unprivileged = 65534

// needRoot skips a scenario that must start programs as another user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("SKIPPED: this scenario runs sendmail as uid 65534 against a root daemon and needs to run as root (CI does)")
	}
}

// openToOthers lets another user reach dir: search permission on it and
// every folder above it (t.TempDir makes them 0700).
func openToOthers(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sendmailBinary copies the moonpost binary into a folder of its own
// under the name sendmail (the name selects the command), executable by
// everyone.
func sendmailBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	openToOthers(t, dir)
	dst := filepath.Join(dir, "sendmail")
	in, err := os.Open(e2e.Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// sendmailAs runs the sendmail binary as uid/gid with the daemon's
// configuration and returns its exit code and output.
func sendmailAs(t *testing.T, d *daemon, bin string, uid, gid uint32, stdin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = d.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "MOONPOST_CONFIG=" + d.cfg}
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// Scenario 18: a local user who is not root submits mail with the real
// sendmail binary to a daemon running as root, and it is delivered under
// that user's name.
func TestT18SendmailAsUnprivilegedUser(t *testing.T) {
	needRoot(t)
	d := newDaemon(t, "")
	openToOthers(t, d.dir)
	if err := os.Chmod(d.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := sendmailBinary(t)
	d.start()
	code, out := sendmailAs(t, d, bin, unprivileged, unprivileged, "Subject: from nobody\n\nhello\n", "bob@mx.test")
	if code != 0 {
		t.Fatalf("sendmail as uid %d: exit %d: %s\n%s", unprivileged, code, out, d.logs())
	}
	msg := d.WaitMaildir("spool/mail/bob", 1)[0]
	if !strings.Contains(msg, "Subject: from nobody") || !strings.Contains(msg, "Return-Path: <nobody@mx.test>") {
		t.Errorf("bob's message:\n%s", msg)
	}
	d.waitLog("uid=65534 user=nobody from=<nobody>", 1)
}

// Scenario 18b: with setgid_group the maildrop is 1730 in that group,
// so a plain sendmail run by another user cannot write it, and the same
// binary installed setgid to the group (what an installer does with
// chgrp and chmod g+s) can. The Debian group "mail" stands in for
// postdrop, so the test adds no group to the system.
func TestT18SetgidSendmail(t *testing.T) {
	needRoot(t)
	grp, err := user.LookupGroup("mail")
	if err != nil {
		t.Skip("SKIPPED: no group \"mail\" to stand in for postdrop:", err)
	}
	gid, _ := strconv.Atoi(grp.Gid)
	d := newDaemon(t, `setgid_group = "mail"`)
	openToOthers(t, d.dir)
	if err := os.Chmod(d.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := sendmailBinary(t)
	var fs unix.Statfs_t
	if err := unix.Statfs(bin, &fs); err != nil || fs.Flags&unix.ST_NOSUID != 0 {
		t.Skip("SKIPPED: the temporary folder is mounted nosuid; a setgid sendmail cannot be tried there")
	}
	d.start()
	d.waitLog("group=mail", 1)
	var st unix.Stat_t
	if err := unix.Stat(d.Path("spool", "maildrop"), &st); err != nil || st.Mode&0o7777 != 0o1730 || int(st.Gid) != gid {
		t.Fatalf("maildrop mode %o gid %d (%v), want 1730 gid %d", st.Mode&0o7777, st.Gid, err, gid)
	}

	if code, out := sendmailAs(t, d, bin, unprivileged, unprivileged, "Subject: plain\n\nx\n", "bob@mx.test"); code != 75 {
		t.Fatalf("a sendmail without the group: exit %d, want 75: %s", code, out)
	}
	// The installer's steps: chgrp postdrop sendmail; chmod g+s sendmail.
	if err := os.Chown(bin, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	code, out := sendmailAs(t, d, bin, unprivileged, unprivileged, "Subject: setgid\n\nhello\n", "bob@mx.test")
	if code != 0 {
		t.Fatalf("setgid sendmail: exit %d: %s\n%s", code, out, d.logs())
	}
	if msg := d.WaitMaildir("spool/mail/bob", 1)[0]; !strings.Contains(msg, "Subject: setgid") {
		t.Errorf("bob's message:\n%s", msg)
	}
	d.waitLog("uid=65534 user=nobody from=<nobody>", 1)
}
