package lmtp

import (
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dovecotConf is a private Dovecot that only speaks LMTP on a unix
// socket, stores every user's mail in DIR/mail/USER as Maildir and runs
// its service processes as the test's own user, so it needs no system
// setup.
const dovecotConf = `
base_dir = {{dir}}/run
state_dir = {{dir}}/state
log_path = {{dir}}/dovecot.log
protocols = lmtp
ssl = no
listen = 127.0.0.1
default_internal_user = {{user}}
default_internal_group = {{group}}
default_login_user = {{user}}
first_valid_uid = 0
mail_uid = {{uid}}
mail_gid = {{gid}}
mail_location = maildir:{{dir}}/mail/%n
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid={{uid}} gid={{gid}} home={{dir}}/mail/%n
}
service lmtp {
  unix_listener lmtp {
    path = {{dir}}/lmtp.sock
    mode = 0600
  }
}
service anvil {
  chroot =
}
`

// startDovecot runs dovecot in the foreground for the test and returns
// its LMTP socket.
func startDovecot(t *testing.T) (sock, dir string) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		t.Skip("SKIP: dovecot not installed; run .ci/install-deps")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	mailUID, mailGID := mailOwner(t, u, dir)
	conf := strings.NewReplacer("{{dir}}", dir, "{{user}}", u.Username, "{{group}}", g.Name,
		"{{uid}}", mailUID, "{{gid}}", mailGID).Replace(dovecotConf)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	sock = filepath.Join(dir, "lmtp.sock")
	waitForSocket(t, sock, exited, dir)
	return sock, dir
}

// mailOwner picks who owns the delivered mail. Dovecot refuses to
// deliver as root, so under root the mail goes to "nobody", with the
// test directories opened just enough for that user to reach its own.
func mailOwner(t *testing.T, u *user.User, dir string) (uid, gid string) {
	if u.Uid != "0" {
		return u.Uid, u.Gid
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("SKIP: running as root and no 'nobody' user for dovecot to deliver as")
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	mail := filepath.Join(dir, "mail")
	id, _ := strconv.Atoi(nobody.Uid)
	gidN, _ := strconv.Atoi(nobody.Gid)
	if err := os.Mkdir(mail, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mail, id, gidN); err != nil {
		t.Fatal(err)
	}
	return nobody.Uid, nobody.Gid
}

// waitForSocket polls until dovecot accepts connections, at most 10s;
// dovecot has no readiness signal short of parsing its log.
func waitForSocket(t *testing.T, sock string, exited <-chan error, dir string) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot exited: %v\n%s", err, log)
		case <-deadline:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot LMTP socket never came up\n%s", log)
		case <-tick.C:
		}
	}
}

func TestDovecotInterop(t *testing.T) {
	sock, dir := startDovecot(t)
	a := newAgent(t)
	res := a.Deliver(context.Background(), request("unix:"+sock, "alice@example.test", "bob@example.test"))
	for i := range res {
		if !res[i].Status.OK() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("recipient %d: %v\n%s", i, res[i].Status, log)
		}
	}
	for _, user := range []string{"alice", "bob"} {
		files, err := filepath.Glob(filepath.Join(dir, "mail", user, "new", "*"))
		if err != nil || len(files) != 1 {
			t.Fatalf("%s: maildir new/ holds %v (%v)", user, files, err)
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\n.dot line\n") && !strings.Contains(string(data), "\r\n.dot line\r\n") {
			t.Errorf("%s: content not stored intact:\n%s", user, data)
		}
	}
}
