package local

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

const aliasFile = `
postmaster: root
root: root, admin
admin: staff
staff: Chef, boss@elsewhere.example
loop1: loop2
loop2: loop1
list: :include:DIR/inc/list.txt
badlist: :include:DIR/elsewhere.txt
evil-list: :include:DIR/inc/evil.txt
prog: "|cat > DIR/out/prog.msg; env > DIR/out/prog.env"
fail: "|echo no such user; exit 67"
archive: /nonexistent-dir-for-test/archive, joe
tofile: DIR/out/file.mbox
todir: DIR/out/maildir/
outside: /etc/moonpost-test-should-not-exist
sales: joe
remote: far@elsewhere.example
`

func aliasEnv(t *testing.T) *env {
	e := newEnv(t, aliasFile, func(c *Config) {
		root := strings.TrimSuffix(c.Mailbox, "/spool/{user}/")
		c.IncludeDirs = []string{root + "/inc"}
		c.AllowFileDirs = []string{root + "/out"}
	})
	for _, d := range []string{"inc", "out"} {
		os.MkdirAll(filepath.Join(e.dir, d), 0o755)
	}
	e.write("inc/list.txt", "# members\nann, bob\n  cara@example.org\n")
	e.write("inc/evil.txt", "\"|touch DIR/out/pwned\"\n")
	e.write("elsewhere.txt", "ann\n")
	return e
}

func TestNestedAliasesAndSelfReference(t *testing.T) {
	e := aliasEnv(t)
	if got := e.status("ROOT@example.org"); got != "250 2.0.0 delivered to maildir; delivered to maildir; forwarded" {
		t.Errorf("root: %s", got)
	}
	if n := len(e.maildir("root")); n != 1 {
		t.Errorf("root mailbox has %d messages", n)
	}
	chef := e.maildir("chef")
	if len(chef) != 1 || !strings.Contains(chef[0], "Delivered-To: Chef@example.org\n") {
		t.Errorf("chef mailbox: %q", chef)
	}
	if want := []string{"staff@example.org -> boss@elsewhere.example"}; !reflect.DeepEqual(e.fwd.calls, want) {
		t.Errorf("forwards %q", e.fwd.calls)
	}
}

func TestExpansionLimits(t *testing.T) {
	e := aliasEnv(t)
	if got := e.status("loop1@example.org"); got != "554 5.4.6 alias expansion loop for loop1@example.org" {
		t.Errorf("loop: %s", got)
	}
	var chain strings.Builder
	for i := range 30 {
		fmt.Fprintf(&chain, "a%d: a%d\n", i, i+1)
	}
	deep := newEnv(t, chain.String(), nil)
	if got := deep.status("a0@x.org"); !strings.HasPrefix(got, "554 5.4.6 alias expansion too deep") {
		t.Errorf("deep: %s", got)
	}
	wide := newEnv(t, "big: a, b, c, d\n", func(c *Config) { c.MaxTargets = 3 })
	if got := wide.status("big@x.org"); got != statusTooLarge.Error() {
		t.Errorf("wide: %s", got)
	}
}

func TestInclude(t *testing.T) {
	e := aliasEnv(t)
	if got := e.status("list@example.org"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("list: %s", got)
	}
	for _, u := range []string{"ann", "bob", "cara"} {
		if len(e.maildir(u)) != 1 {
			t.Errorf("%s did not get the list mail", u)
		}
	}
	if got := e.status("badlist@example.org"); got != "550 5.7.1 include file is not allowed for badlist@example.org" {
		t.Errorf("include outside IncludeDirs: %s", got)
	}
	if got := e.status("evil-list@example.org"); !strings.HasPrefix(got, "550 5.7.1 mail to command is not allowed") {
		t.Errorf("command in include: %s", got)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "out", "pwned")); err == nil {
		t.Error("command from an include file ran")
	}
	none := newEnv(t, "list: :include:/etc/passwd\n", nil)
	if got := none.status("list@x.org"); !strings.HasPrefix(got, "550 5.7.1") {
		t.Errorf("include without IncludeDirs: %s", got)
	}
}

func TestCommandTarget(t *testing.T) {
	e := aliasEnv(t)
	req := "prog+$(touch pwned)`touch pwned2`@example.org"
	if got := e.status(req); got != "250 2.0.0 delivered to command: cat > "+e.dir+"/out/prog.msg; env > "+e.dir+"/out/prog.env" {
		t.Fatalf("prog: %s", got)
	}
	msg, _ := os.ReadFile(filepath.Join(e.dir, "out", "prog.msg"))
	if !strings.HasPrefix(string(msg), "Return-Path: <sender@remote.example>\nDelivered-To: "+req+"\nSubject: t\n") || strings.Contains(string(msg), "\r") {
		t.Errorf("command stdin: %q", msg)
	}
	envText, _ := os.ReadFile(filepath.Join(e.dir, "out", "prog.env"))
	for _, kv := range []string{"RECIPIENT=" + req, "SENDER=sender@remote.example", "LOCAL=prog+$(touch pwned)`touch pwned2`",
		"USER=prog", "EXTENSION=$(touch pwned)`touch pwned2`", "DOMAIN=example.org", "ORIGINAL_RECIPIENT=" + req} {
		if !strings.Contains(string(envText), kv+"\n") {
			t.Errorf("env lacks %s", kv)
		}
	}
	for _, p := range []string{"/pwned", "/pwned2", filepath.Join(e.dir, "pwned")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s created: address was interpolated", p)
		}
	}
	if got := e.status("fail@example.org"); got != "550 5.1.1 user unknown: no such user" {
		t.Errorf("failing command: %s", got)
	}
	off := newEnv(t, "prog: |true\n", func(c *Config) { c.Commands = PermitNone })
	if got := off.status("prog@x.org"); !strings.HasPrefix(got, "550 5.7.1") {
		t.Errorf("commands off: %s", got)
	}
}

func TestFileTargets(t *testing.T) {
	e := aliasEnv(t)
	if got := e.status("tofile@example.org"); got != "250 2.0.0 delivered to file: "+e.dir+"/out/file.mbox" {
		t.Fatalf("tofile: %s", got)
	}
	readMbox(t, filepath.Join(e.dir, "out", "file.mbox"))
	if got := e.status("todir@example.org"); !strings.HasPrefix(got, "250 ") {
		t.Errorf("todir: %s", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.dir, "out", "maildir", "new")); len(ents) != 1 {
		t.Errorf("maildir file target: %v", ents)
	}
	for _, r := range []string{"outside@example.org", "archive@example.org"} {
		if got := e.status(r); !strings.HasPrefix(got, "550 5.7.1 mail to file is not allowed") {
			t.Errorf("%s: %s", r, got)
		}
	}
	if len(e.maildir("joe")) != 0 {
		t.Error("a refused alias still delivered part of its expansion")
	}
}

func TestExtensionFallbackAndCase(t *testing.T) {
	e := aliasEnv(t)
	if got := e.status("Sales+Spring@Example.org"); got != "250 2.0.0 delivered to maildir" {
		t.Fatalf("sales+ext: %s", got)
	}
	if len(e.maildir("joe")) != 1 {
		t.Error("sales+spring did not reach joe")
	}
	if got := e.status("joe+folder@example.org"); got != "250 2.0.0 delivered to maildir" || len(e.maildir("joe")) != 2 {
		t.Errorf("unaliased extension goes to the user's mailbox: %s", got)
	}
}

func TestDeliveredToLoop(t *testing.T) {
	e := aliasEnv(t)
	looped := "Delivered-To: other@example.org\r\ndelivered-to:\r\n  JOE@example.org\r\nSubject: x\r\n\r\nDelivered-To: bob@example.org\r\n"
	res := e.deliver(looped, "joe@example.org", "sales@example.org", "bob@example.org")
	for i, want := range []string{"554 5.4.6 mail forwarding loop for joe@example.org",
		"554 5.4.6 mail forwarding loop for joe@example.org", "250 2.0.0 delivered to maildir"} {
		if got := res[i].Status.Error(); got != want {
			t.Errorf("rcpt %d: %s, want %s", i, got, want)
		}
	}
}

func TestBadLocalParts(t *testing.T) {
	e := newEnv(t, "", nil)
	for _, r := range []string{"../etc@x.org", "a/b@x.org", "..@x.org", "@x.org", "a\x00b@x.org", ".@x.org", "joe@../x"} {
		if got := e.status(r); got != "550 5.1.3 bad address syntax" {
			t.Errorf("%q: %s", r, got)
		}
	}
	if ents, _ := os.ReadDir(e.spool); len(ents) != 0 {
		t.Errorf("spool: %v", ents)
	}
}

func TestForwarding(t *testing.T) {
	e := aliasEnv(t)
	e.fwd.err = dsn.New(550, "5.1.1", "no such user")
	if got := e.status("remote@example.org"); got != "550 5.1.1 no such user" {
		t.Errorf("forward status: %s", got)
	}
	e.fwd.err = fmt.Errorf("queue write failed")
	if got := e.status("remote@example.org"); got != dsn.TempLocal.Error() {
		t.Errorf("forward error: %s", got)
	}
	nofwd := newEnv(t, "remote: far@elsewhere.example\n", func(c *Config) { c.Forwarder = nil })
	if got := nofwd.status("remote@x.org"); !strings.HasPrefix(got, "451 4.3.0 forwarding unavailable") {
		t.Errorf("nil forwarder: %s", got)
	}
}

func TestDuplicateDestinationsWrittenOnce(t *testing.T) {
	e := aliasEnv(t)
	res := e.deliver(message("d"), "sales@example.org", "joe@example.org", "JOE@example.org")
	for _, r := range res {
		if !r.Status.OK() {
			t.Errorf("status %v", r.Status)
		}
	}
	if n := len(e.maildir("joe")); n != 1 {
		t.Errorf("joe got %d copies", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{Mailbox: "relative/{user}/"}, {Mailbox: "/var/mail/shared"}, {AllowFileDirs: []string{"tmp"}}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
