package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/testmsg"
	"github.com/moonpost/moonpost/core/deliver/local/aliases"
)

// TestMain doubles as a second mbox appender process for the locking
// test: with MOONPOST_MBOX_APPEND set, it appends that many messages to
// the mbox named by MOONPOST_MBOX_PATH and exits.
func TestMain(m *testing.M) {
	if n := os.Getenv("MOONPOST_MBOX_APPEND"); n != "" {
		os.Exit(appendMany(os.Getenv("MOONPOST_MBOX_PATH"), n))
	}
	os.Exit(m.Run())
}

func appendMany(path, count string) int {
	var n int
	fmt.Sscan(count, &n)
	for i := range n {
		msg := strings.NewReader(message(fmt.Sprintf("proc-%d", i)))
		if err := appendMbox(context.Background(), path, "s@x", msg, mboxLocking{Wait: time.Minute, Stale: time.Minute}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// message is a CRLF message whose body has a "From " line to quote and
// a tag to recognise it by.
func message(tag string) string {
	return "Subject: " + tag + "\r\n\r\nline one " + tag + "\r\nFrom the body\r\n>From quoted\r\nend " + tag + "\r\n"
}

// forwarder records Forward calls.
type forwarder struct {
	mu    sync.Mutex
	calls []string // "owner -> t1,t2"
	err   error
}

func (f *forwarder) Forward(ctx context.Context, req *deliver.Request, rcpt deliver.Recipient, targets []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, rcpt.Addr+" -> "+strings.Join(targets, ","))
	return f.err
}

// env is a test setup: a mail spool, an aliases file and an agent.
type env struct {
	t     *testing.T
	dir   string // root of everything
	spool string // mailboxes live here
	fwd   *forwarder
	agent *Agent
}

// newEnv writes aliasText (with "DIR" replaced by the test directory)
// and builds an agent; change cfg to adjust.
func newEnv(t *testing.T, aliasText string, change func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, spool: filepath.Join(dir, "spool"), fwd: &forwarder{}}
	if err := os.MkdirAll(e.spool, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Mailbox:   e.spool + "/{user}/",
		Forwarder: e.fwd,
		Hostname:  "test.example",
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	if aliasText != "" {
		path := filepath.Join(dir, "aliases")
		e.write("aliases", aliasText)
		al, err := aliases.LoadAliasFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Aliases = al
	}
	if change != nil {
		change(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.agent = a
	return e
}

func (e *env) write(name, text string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "DIR", e.dir)), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *env) deliver(content string, rcpts ...string) []deliver.Result {
	req := &deliver.Request{QueueID: "QID1", Sender: "sender@remote.example", Content: testmsg.Content(content)}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, deliver.Recipient{Addr: r})
	}
	return e.agent.Deliver(context.Background(), req)
}

// status delivers one message to rcpt and returns "code enhanced text".
func (e *env) status(rcpt string) string {
	return e.deliver(message("t"), rcpt)[0].Status.Error()
}

// maildir returns the files in user's Maildir new/, failing if tmp/ is
// not empty.
func (e *env) maildir(user string) []string {
	e.t.Helper()
	if tmp, _ := os.ReadDir(filepath.Join(e.spool, user, "tmp")); len(tmp) != 0 {
		e.t.Errorf("%s: tmp/ not empty: %v", user, tmp)
	}
	ents, _ := os.ReadDir(filepath.Join(e.spool, user, "new"))
	var out []string
	for _, de := range ents {
		b, err := os.ReadFile(filepath.Join(e.spool, user, "new", de.Name()))
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
