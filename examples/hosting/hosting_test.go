package hosting

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// TestLua runs scripts/*_test.lua against the scripts.
func TestLua(t *testing.T) {
	luatest.Run(t, "scripts", hooks.Config{Config: map[string]any{
		"mydestination": []string{"mx.hosting.test", "localhost"},
		"relay_domains": []string{"shop.example", "blog.example"},
		"local":         map[string]any{"mailbox_dirs": []string{"/srv/mail"}},
	}})
}

// TestHosting runs the example through the daemon: mailboxes, aliases
// and the catch-all land in the table's Maildirs; unknown users, oversize
// mail and relaying are refused during the dialogue.
func TestHosting(t *testing.T) {
	d := e2e.Setup(t, ".")
	d.Start()
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	for _, to := range [][]string{{"alice@shop.example"}, {"sales@shop.example"}, {"whoever@shop.example"}, {"info@blog.example"}} {
		if code, text := c.Send("s@remote.example", to, "Subject: to "+to[0]+"\n\nhello\n"); code != 250 {
			t.Fatalf("%s: %d %s", to[0], code, text)
		}
	}
	c.Expect("MAIL FROM:<s@remote.example>", 250)
	refuse := func(rcpt string, code int, enhanced string) {
		t.Helper()
		got, text := c.Cmd("RCPT TO:<" + rcpt + ">")
		if got != code || !strings.HasPrefix(text, enhanced) {
			t.Errorf("%s: %d %s, want %d %s", rcpt, got, text, code, enhanced)
		}
	}
	refuse("nobody@blog.example", 550, "5.1.1")       // no catch-all there
	refuse("someone@elsewhere.example", 554, "5.7.1") // relay denied
	c.Expect("RSET", 250)
	c.Expect("MAIL FROM:<s@remote.example> SIZE=5000", 250)
	refuse("carol@blog.example", 552, "5.2.3") // over smallblog's 2048 bytes
	c.Expect("RCPT TO:<alice@shop.example>", 250)
	c.Expect("RSET", 250)

	alice := d.WaitMaildir("mail/shop.example/alice", 3) // direct, sales, catch-all
	bob := d.WaitMaildir("mail/shop.example/bob", 1)
	carol := d.WaitMaildir("mail/blog.example/carol", 1)
	if !strings.Contains(bob[0], "Subject: to sales@shop.example") || !strings.Contains(carol[0], "Subject: to info@blog.example") {
		t.Errorf("bob got %q, carol got %q", bob[0], carol[0])
	}
	if !strings.Contains(strings.Join(alice, ""), "Subject: to whoever@shop.example") {
		t.Errorf("the catch-all did not reach alice")
	}

	// A client that declares no SIZE gets past RCPT; the local agent's
	// size_limit then refuses the delivery and the sender, a hosted
	// mailbox here, receives the bounce.
	if code, text := c.Send("alice@shop.example", []string{"carol@blog.example"},
		"Subject: big\n\n"+strings.Repeat("0123456789abcdef\n", 200)); code != 250 {
		t.Fatalf("undeclared big message: %d %s", code, text)
	}
	c.Cmd("QUIT")
	bounce := d.WaitMaildir("mail/shop.example/alice", 4)
	if all := strings.Join(bounce, ""); !strings.Contains(all, "5.2.3") {
		t.Errorf("no 5.2.3 bounce in alice's mailbox:\n%s", all)
	}
	if n := len(d.Maildir("mail/blog.example/carol")); n != 1 {
		t.Errorf("carol has %d messages, want 1", n)
	}
	code, out := d.Run("route", "bob@shop.example")
	if code != 0 || !strings.Contains(out, "option: mailbox="+d.Path("mail", "shop.example", "bob")+"/") {
		t.Errorf("route: %d\n%s", code, out)
	}
}

// TestRouteAnswersWhatDeliveryDoes: for every address the example is
// tested with, the mailboxes `moonpost route` names — through the
// running daemon, then standalone — are the ones real mail lands in,
// virtual aliases and the catch-all included.
func TestRouteAnswersWhatDeliveryDoes(t *testing.T) {
	d := e2e.Setup(t, ".")
	d.Start()
	addrs := []string{"alice@shop.example", "sales@shop.example", "whoever@shop.example", "info@blog.example"}
	live := map[string]string{}
	for _, a := range addrs {
		code, out := d.Run("route", a, "--sender", "s@remote.example")
		if code != 0 || strings.Contains(out, "not running") {
			t.Fatalf("route %s through the daemon: %d\n%s", a, code, out)
		}
		live[a] = out
	}
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	for _, a := range addrs {
		if code, text := c.Send("s@remote.example", []string{a}, "Subject: probe "+a+"\n\nhello\n"); code != 250 {
			t.Fatalf("%s: %d %s", a, code, text)
		}
	}
	c.Cmd("QUIT")
	// alice: direct, sales, catch-all; bob: sales; carol: info.
	got := map[string][]string{}
	for box, n := range map[string]int{"shop.example/alice": 3, "shop.example/bob": 1, "blog.example/carol": 1} {
		for _, m := range d.WaitMaildir("mail/"+box, n) {
			for _, a := range addrs {
				if strings.Contains(m, "Subject: probe "+a+"\r\n") || strings.Contains(m, "Subject: probe "+a+"\n") {
					got[a] = append(got[a], d.Path("mail", box)+"/")
				}
			}
		}
	}
	d.Stop()
	for _, a := range addrs {
		want := mailboxes(live[a])
		if strings.Join(sorted(got[a]), " ") != strings.Join(want, " ") {
			t.Errorf("%s: route says %q, delivery went to %q\n%s", a, want, sorted(got[a]), live[a])
		}
		code, out := d.Run("route", a, "--sender", "s@remote.example")
		if code != 0 || !strings.Contains(out, "not running") || !strings.HasSuffix(out, live[a]) {
			t.Errorf("standalone route %s differs from the daemon's:\n%s\nvs\n%s", a, out, live[a])
		}
	}
}

// mailboxes lists the "option: mailbox=" paths of route output, sorted.
func mailboxes(out string) []string {
	var boxes []string
	for _, line := range strings.Split(out, "\n") {
		if _, box, ok := strings.Cut(strings.TrimSpace(line), "option: mailbox="); ok {
			boxes = append(boxes, box)
		}
	}
	return sorted(boxes)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestPolicyDiff: a candidate folder that points the catch-all at bob
// changes exactly the catch-all's recipient, standalone and through the
// daemon alike; a candidate whose selftest fails is refused.
func TestPolicyDiff(t *testing.T) {
	d := e2e.Setup(t, ".")
	cand := t.TempDir()
	if err := os.CopyFS(cand, os.DirFS("scripts")); err != nil {
		t.Fatal(err)
	}
	virtual := filepath.Join(cand, "tables", "virtual")
	b, err := os.ReadFile(virtual)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "@shop.example           alice@shop.example", "@shop.example           bob@shop.example", 1)
	if edited == string(b) {
		t.Fatal("catch-all line not found")
	}
	if err := os.WriteFile(virtual, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(t.TempDir(), "sample")
	os.WriteFile(sample, []byte("# sender recipients\ns@remote.example alice@shop.example whoever@shop.example\n<> info@blog.example\n"), 0o644)
	check := func(how string) string {
		t.Helper()
		code, out := d.Run("policy", "diff", cand, "--sample", sample)
		if code != 0 || !strings.Contains(out, "checked: 3 recipients of 2 messages\nchanged: 1\n") ||
			!strings.Contains(out, "sample-2 whoever@shop.example\n  live:      alice@shop.example local:shop.example") ||
			!strings.Contains(out, "  candidate: bob@shop.example local:shop.example") {
			t.Errorf("%s: %d\n%s", how, code, out)
		}
		_, rest, _ := strings.Cut(out, "checked:")
		return rest
	}
	alone := check("standalone")
	d.Start()
	if live := check("through the daemon"); live != alone {
		t.Errorf("the daemon's answer differs:\n%s\nvs\n%s", live, alone)
	}
	domains := filepath.Join(cand, "tables", "domains")
	os.WriteFile(domains, []byte("shop.example acme\nnew.example acme\n"), 0o644)
	if code, out := d.Run("policy", "diff", cand, "--sample", sample); code == 0 || !strings.Contains(out, ".lua:") {
		t.Errorf("a candidate failing its selftest: %d\n%s", code, out)
	}
}
