package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/testserver"
)

// Postfix is a private Postfix instance: its own configuration, queue and
// log under a temporary directory, an smtpd on 127.0.0.1:Port, and every
// recipient in domain Domain delivered to one Maildir.
type Postfix struct {
	Dir    string
	Port   int
	Domain string
	t      testing.TB
}

// StartPostfix starts an instance, or skips the test when Postfix is not
// installed or we are not root (Postfix's master must start as root).
// extraMain is appended to main.cf.
func StartPostfix(t testing.TB, port int, domain, extraMain string) *Postfix {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
		t.Skip("SKIP: Postfix not installed; run .ci/install-deps (apt-get install postfix) to run this interop test")
	}
	if os.Getuid() != 0 {
		t.Skip("SKIP: a private Postfix instance needs root to start its master process")
	}
	p := &Postfix{Dir: t.TempDir(), Port: port, Domain: domain, t: t}
	// Postfix's daemons run as the postfix user and must traverse the
	// path; t.TempDir makes its parent 0700.
	os.Chmod(filepath.Dir(p.Dir), 0o755)
	os.Chmod(p.Dir, 0o755)
	for _, d := range []string{"etc", "spool", "data", "mail"} {
		os.MkdirAll(filepath.Join(p.Dir, d), 0o755)
	}
	run(t, "chown", "postfix", filepath.Join(p.Dir, "data"))
	run(t, "chown", "65534:65534", filepath.Join(p.Dir, "mail"))
	p.write("main.cf", p.mainCF()+extraMain+"\n")
	p.write("master.cf", testserver.PostfixMaster(fmt.Sprintf("127.0.0.1:%d", port), "-"))
	run(t, "postfix", "-c", p.etc(), "set-permissions")
	if out, err := exec.Command("postfix", "-c", p.etc(), "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, p.Log())
	}
	t.Cleanup(p.Stop)
	p.waitListening()
	return p
}

func (p *Postfix) etc() string { return filepath.Join(p.Dir, "etc") }

func (p *Postfix) write(name, body string) {
	if err := os.WriteFile(filepath.Join(p.etc(), name), []byte(body), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *Postfix) mainCF() string {
	return fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
myhostname = postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
virtual_mailbox_domains = %[2]s
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
`, p.Dir, p.Domain)
}

// Stop stops the instance.
func (p *Postfix) Stop() {
	exec.Command("postfix", "-c", p.etc(), "stop").Run()
}

// Log returns the instance's mail log.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

// Mailbox returns the messages delivered so far.
func (p *Postfix) Mailbox() []string {
	files, _ := filepath.Glob(filepath.Join(p.Dir, "mail", "box", "new", "*"))
	var out []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

func (p *Postfix) waitListening() {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Log(), "daemon started") {
			if c, err := dialPort(p.Port); err == nil {
				c.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("postfix did not start:\n%s", p.Log())
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
