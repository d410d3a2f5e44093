package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/testmsg"
)

// hostEnv is an agent with a mail root "DIR/hosted" for route mailboxes.
func hostEnv(t *testing.T, aliasText string) (*env, string) {
	var root string
	e := newEnv(t, aliasText, func(c *Config) {
		root = strings.TrimSuffix(c.Mailbox, "/spool/{user}/") + "/hosted"
		c.MailboxDirs = []string{root}
	})
	return e, root // not created: the first delivery makes the mail root
}

// deliverOpts delivers one message to rcpt with route options.
func (e *env) deliverOpts(content, rcpt string, opts map[string]string) string {
	req := &deliver.Request{QueueID: "QID1", Sender: "s@remote.example", Content: testmsg.Content(content),
		Recipients: []deliver.Recipient{{Addr: rcpt}}, Options: opts}
	return e.agent.Deliver(context.Background(), req)[0].Status.Error()
}

func countNew(t *testing.T, maildir string) int {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(maildir, "new"))
	return len(ents)
}

func TestMailboxOption(t *testing.T) {
	e, root := hostEnv(t, "")
	box := root + "/shop.example/alice/"
	if got := e.deliverOpts(message("m"), "alice@shop.example", map[string]string{"mailbox": box}); got != "250 2.0.0 delivered to maildir" {
		t.Fatalf("maildir option: %s", got)
	}
	if n := countNew(t, box); n != 1 {
		t.Errorf("%s has %d messages", box, n)
	}
	if n := len(e.maildir("alice")); n != 0 {
		t.Errorf("the pattern's mailbox got %d messages", n)
	}
	mbox := root + "/shop.example/bob.mbox"
	if got := e.deliverOpts(message("m"), "bob@shop.example", map[string]string{"mailbox": mbox}); got != "250 2.0.0 delivered to mailbox" {
		t.Fatalf("mbox option: %s", got)
	}
	if b, _ := os.ReadFile(mbox); !strings.HasPrefix(string(b), "From s@remote.example ") {
		t.Errorf("mbox: %q", b)
	}
}

// TestMailboxOptionOnlyForTheRecipient: an alias of the routed
// recipient naming another local user delivers that user by the pattern.
func TestMailboxOptionOnlyForTheRecipient(t *testing.T) {
	e, root := hostEnv(t, "sales: sales, joe\n")
	box := root + "/sales/"
	if got := e.deliverOpts(message("m"), "sales@shop.example", map[string]string{"mailbox": box}); !strings.HasPrefix(got, "250 ") {
		t.Fatal(got)
	}
	if countNew(t, box) != 1 || len(e.maildir("joe")) != 1 || len(e.maildir("sales")) != 0 {
		t.Errorf("sales box %d, joe %d, pattern sales %d", countNew(t, box), len(e.maildir("joe")), len(e.maildir("sales")))
	}
}

func TestMailboxOptionRefusals(t *testing.T) {
	e, root := hostEnv(t, "")
	outside := t.TempDir()
	os.MkdirAll(root, 0o700)
	os.Symlink(outside, filepath.Join(root, "link"))
	cases := map[string]string{
		"relative/box/":                      "451 4.3.5",
		root + "/../escape/":                 "550 5.7.1",
		root + "/a/../../escape/":            "550 5.7.1",
		outside + "/box/":                    "550 5.7.1",
		root + "/link/box/":                  "550 5.7.1",
		root + "/":                           "550 5.7.1",
		root + "-sibling/box/":               "550 5.7.1",
		filepath.Dir(root) + "/spool/alice/": "550 5.7.1",
	}
	for path, want := range cases {
		if got := e.deliverOpts(message("m"), "u@shop.example", map[string]string{"mailbox": path}); !strings.HasPrefix(got, want) {
			t.Errorf("mailbox %q: %s, want %s", path, got, want)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside: %v", ents)
	}
	plain := newEnv(t, "", nil) // no mailbox_dirs: the option is a configuration error
	if got := plain.deliverOpts(message("m"), "u@x", map[string]string{"mailbox": root + "/u/"}); !strings.HasPrefix(got, "451 4.3.5") {
		t.Errorf("without mailbox_dirs: %s", got)
	}
}

func TestSizeLimitAndUnknownOptions(t *testing.T) {
	e, root := hostEnv(t, "")
	msg := message("m")
	cases := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"size_limit": "10"}, "552 5.2.3 message length exceeds administrative limit"},
		{map[string]string{"size_limit": "100000"}, "250 2.0.0 delivered to maildir"},
		{map[string]string{"size_limit": "ten"}, "451 4.3.5"},
		{map[string]string{"size_limit": "-1"}, "451 4.3.5"},
		{map[string]string{"mailbx": root + "/u/"}, "451 4.3.5"},
	}
	for _, c := range cases {
		if got := e.deliverOpts(msg, "u@shop.example", c.opts); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v: %s, want %s", c.opts, got, c.want)
		}
	}
	if n := len(e.maildir("u")); n != 1 {
		t.Errorf("%d messages delivered, want the one under the limit", n)
	}
}
