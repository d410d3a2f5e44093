package pipe

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/testmsg"
)

func request(rcpts ...string) *deliver.Request {
	req := &deliver.Request{QueueID: "Q123", Sender: "s@example.org", Content: testmsg.Simple, Nexthop: "nh"}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, deliver.Recipient{Addr: r})
	}
	return req
}

func newAgent(t *testing.T, cfg Config) *Agent {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExitCodes runs every sysexits entry through a real process: the
// shell is the command itself, the exit code a literal in its script.
func TestExitCodes(t *testing.T) {
	for _, code := range []int{0, 1, 2, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 127} {
		a := newAgent(t, Config{Argv: []string{"/bin/sh", "-c", fmt.Sprintf("cat >/dev/null; exit %d", code)}})
		res := a.Deliver(context.Background(), request("u@x"))
		want := deliver.ExitStatus(code)
		got := res[0].Status
		if got.Code != want.Code || got.Enhanced != want.Enhanced || res[0].Relay != "pipe" {
			t.Errorf("exit %d: %v, want %v", code, got, want)
		}
		if code != 0 && got.Text != want.Text {
			t.Errorf("exit %d: text %q, want %q", code, got.Text, want.Text)
		}
	}
}

// TestHostileAddresses shows that addresses reach the program as literal
// argv strings: nothing is run through a shell.
func TestHostileAddresses(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	hostile := []string{"a;rm -rf /@x", "$(touch pwned)@x", "`touch pwned2`@x", "a b'\"c@x", "-rf@x"}
	a := newAgent(t, Config{
		Argv:           []string{"/bin/sh", "-c", `printf '%s\n' "$@" > "` + out + `"`, "sh", "${sender}", "--", "${recipient}"},
		Dir:            dir,
		RecipientLimit: 10,
	})
	req := request(hostile...)
	req.Sender = "$(touch pwned3)@x"
	for _, r := range a.Deliver(context.Background(), req) {
		if !r.Status.OK() {
			t.Fatalf("status %v", r.Status)
		}
	}
	want := strings.Join(append([]string{"$(touch pwned3)@x", "--"}, hostile...), "\n") + "\n"
	if got := readFile(t, out); got != want {
		t.Errorf("args:\n%s\nwant:\n%s", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("command created extra files: %v", entries)
	}
}

func TestStdinAndEnv(t *testing.T) {
	dir := t.TempDir()
	a := newAgent(t, Config{
		Argv:        []string{"/bin/sh", "-c", `cat > "$1"; env > "$2"`, "sh", dir + "/msg", dir + "/env"},
		ReturnPath:  true,
		DeliveredTo: true,
	})
	req := request("joe+list@example.com")
	req.Recipients[0].Original = "Joe+List@Example.com"
	if st := a.Deliver(context.Background(), req)[0].Status; st.Error() != "250 2.0.0 delivered via pipe service" {
		t.Fatalf("status %v", st)
	}
	wantMsg := "Return-Path: <s@example.org>\nDelivered-To: joe+list@example.com\n" +
		strings.ReplaceAll(string(testmsg.Simple), "\r\n", "\n")
	if got := readFile(t, dir+"/msg"); got != wantMsg {
		t.Errorf("stdin = %q", got)
	}
	env := readFile(t, dir+"/env")
	for _, kv := range []string{"SENDER=s@example.org", "RECIPIENT=joe+list@example.com", "LOCAL=joe+list",
		"USER=joe", "EXTENSION=list", "DOMAIN=example.com", "ORIGINAL_RECIPIENT=Joe+List@Example.com", "QUEUE_ID=Q123"} {
		if !strings.Contains(env, kv+"\n") {
			t.Errorf("env lacks %s:\n%s", kv, env)
		}
	}
}

func TestCRLFOption(t *testing.T) {
	out := filepath.Join(t.TempDir(), "msg")
	a := newAgent(t, Config{Argv: []string{"/bin/sh", "-c", `cat > "$1"`, "sh", out}, CRLF: true})
	a.Deliver(context.Background(), request("u@x"))
	if got := readFile(t, out); got != string(testmsg.Simple) {
		t.Errorf("stdin = %q", got)
	}
}

func TestOneRunPerRecipient(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	a := newAgent(t, Config{Argv: []string{"/bin/sh", "-c", `echo "$*" >> "$0"`, out, "${user}", "${domain}"}})
	res := a.Deliver(context.Background(), request("a@x", "b@y", "c@z"))
	if len(res) != 3 || !res[2].Status.OK() {
		t.Fatalf("results %v", res)
	}
	if got := readFile(t, out); got != "a x\nb y\nc z\n" {
		t.Errorf("runs = %q", got)
	}
}

func TestTimeoutDefers(t *testing.T) {
	a := newAgent(t, Config{Argv: []string{"/bin/sleep", "30"}, Timeout: 200 * time.Millisecond})
	start := time.Now()
	st := a.Deliver(context.Background(), request("u@x"))[0].Status
	if !st.Temporary() || !strings.Contains(st.Text, "time limit") || time.Since(start) > 5*time.Second {
		t.Errorf("status %v after %v", st, time.Since(start))
	}
}

func TestSizeLimitAndOutput(t *testing.T) {
	a := newAgent(t, Config{Argv: []string{"/bin/true"}, SizeLimit: 10})
	if st := a.Deliver(context.Background(), request("u@x"))[0].Status; st.Error() != "552 5.2.3 message length exceeds administrative limit" {
		t.Errorf("size limit: %v", st)
	}
	a = newAgent(t, Config{Argv: []string{"/bin/sh", "-c", "echo 'no such\nuser'; exit 67"}})
	if st := a.Deliver(context.Background(), request("u@x"))[0].Status; st.Error() != "550 5.1.1 user unknown: no such user" {
		t.Errorf("output text: %v", st)
	}
}

func TestNexthopArgv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nh")
	a := newAgent(t, Config{NexthopArgv: true})
	req := request("u@x")
	req.Nexthop = "argv=/usr/bin/touch\t" + out + "-${user}"
	if st := a.Deliver(context.Background(), req)[0].Status; !st.OK() {
		t.Fatalf("status %v", st)
	}
	if _, err := os.Stat(out + "-u"); err != nil {
		t.Error(err)
	}
	req.Nexthop = "argv=/bin/echo ${bogus}"
	if st := a.Deliver(context.Background(), req)[0].Status; st.Error() != "451 4.3.5 pipe transport configuration error" {
		t.Errorf("bad next hop: %v", st)
	}
	req.Nexthop = "nothing"
	if st := a.Deliver(context.Background(), req)[0].Status; !st.Temporary() {
		t.Errorf("missing command: %v", st)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Argv: []string{"/bin/x", "${nope}"}}, {Argv: []string{"/bin/x"}, User: "no-such-user-here"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestOptionsDefer: pipe takes no transport option (its limits are in
// its configuration); a route that sets one defers without running.
func TestOptionsDefer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ran")
	a := newAgent(t, Config{Argv: []string{"/usr/bin/touch", out}})
	req := request("u@x")
	req.Options = map[string]string{"mailbox": "/m/"}
	if st := a.Deliver(context.Background(), req)[0].Status; st.Code != 451 || st.Enhanced.String() != "4.3.5" {
		t.Errorf("status %v, want 451 4.3.5", st)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the command ran")
	}
}
