package quickstart

import (
	"os"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// TestDefaultPolicy runs the example as shipped: aliases, bare names and
// a relayhost, all decided by the embedded default scripts.
func TestDefaultPolicy(t *testing.T) {
	relay := e2e.NewSink(t, false)
	d := e2e.Setup(t, ".", `# relayhost = "[smarthost.example.test]:587"`, `relayhost = "[127.0.0.1]:`+port(relay.Addr)+`"`)
	d.Start()
	d.WaitLog("policy scripts loaded", 1)

	e2e.Mail(t, d.Addr, "carol@remote.test", []string{"postmaster@mx.example.test", "team@localhost"},
		"Subject: hello\n\nhi\n")
	alice := d.WaitMaildir("spool/mail/alice", 2)
	d.WaitMaildir("spool/mail/bob", 1)
	if !strings.Contains(alice[0], "Subject: hello") {
		t.Errorf("alice got %q", alice[0])
	}

	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	c.Expect("MAIL FROM:<carol@remote.test>", 250)
	c.Expect("RCPT TO:<bob@mx.example.test>", 250)
	if code, text := c.Cmd("RCPT TO:<carol@mx.example.test>"); code != 550 || !strings.HasPrefix(text, "5.1.1") {
		t.Errorf("a user not in users: %d %s, want 550 5.1.1", code, text)
	}
	c.Expect("QUIT", 221)

	e2e.Mail(t, d.Addr, "alice@mx.example.test", []string{"dave@remote.test"}, "Subject: out\n\nbye\n")
	got := relay.Wait(t, 1)
	if got[0].To[0] != "dave@remote.test" {
		t.Errorf("relayhost got %+v", got[0])
	}

	if code, out := d.Run("sendmail", "-f", "alice", "bob"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	bob := d.WaitMaildir("spool/mail/bob", 2)
	if !strings.Contains(strings.Join(bob, ""), "alice@mx.example.test") {
		t.Errorf("bare sender not given myorigin: %q", bob)
	}
}

// TestAdminCommands covers check, route and status on the shipped scripts.
func TestAdminCommands(t *testing.T) {
	d := e2e.Setup(t, ".")
	if code, out := d.Run("check"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check: %d %s", code, out)
	}
	code, out := d.Run("route", "postmaster", "--sender", "carol")
	for _, want := range []string{"sender: carol -> carol@mx.example.test", "recipient: postmaster -> postmaster@mx.example.test",
		"transport: local", "alias: root", "alias: alice", "alias: none (mailbox)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("route: missing %q in (%d)\n%s", want, code, out)
		}
	}
	code, out = d.Run("route", "x@remote.test")
	if code != 0 || !strings.Contains(out, "nexthop: remote.test (MX lookup)") {
		t.Errorf("route remote: %d\n%s", code, out)
	}
	// With no daemon running, status says so (exit 75) and still reports
	// whether the scripts load.
	code, out = d.Run("status")
	if code != 75 || !strings.Contains(out, "not running") || !strings.Contains(out, "generation:  1") || !strings.Contains(out, "last error:  none") {
		t.Errorf("status: %d\n%s", code, out)
	}
}

func port(hostport string) string { return hostport[strings.LastIndex(hostport, ":")+1:] }

// TestMakeItYours follows the README's "Make it yours": the embedded
// scripts are exported, hooks.dir names the copy, and the daemon runs
// it, watching it for edits. Nothing was ever written into the spool.
func TestMakeItYours(t *testing.T) {
	d := e2e.Setup(t, ".")
	if code, out := d.Run("scripts", "export", "my-policy"); code != 0 || !strings.Contains(out, "20-aliases.lua") {
		t.Fatalf("scripts export: %d %s", code, out)
	}
	if code, out := d.Run("scripts", "export", "my-policy"); code == 0 {
		t.Errorf("a second export overwrote the copy: %s", out)
	}
	f, err := os.OpenFile(d.Path("moonpost.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n[hooks]\ndir = \"my-policy\"\n")
	f.Close()
	if code, out := d.Run("check"); code != 0 || !strings.Contains(out, "scripts in my-policy: OK") {
		t.Fatalf("check on the exported scripts: %d %s", code, out)
	}
	d.Start()
	d.WaitLog(`msg="policy scripts loaded" dir=my-policy generation=1 watch=true`, 1)
	if err := os.WriteFile(d.Path("my-policy", "40-mine.lua"), []byte("-- mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.WaitLog(`msg="scripts loaded" component=hooks generation=2`, 1)
	if _, err := os.Stat(d.Path("spool", "scripts")); !os.IsNotExist(err) {
		t.Errorf("the daemon wrote scripts into the spool: %v", err)
	}
}
