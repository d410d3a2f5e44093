package smtpd

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// dataMilter refuses the DATA event of the first transactions it is
// told to, with refusal, and passes every other event.
type dataMilter struct {
	refusal *dsn.Status
	refuse  atomic.Int32 // DATA events still to refuse
	data    atomic.Int32 // DATA events seen
}

func (m *dataMilter) Open(queue.Client, uint16) MilterConn { return m }

func (m *dataMilter) Connect(context.Context) *dsn.Status      { return nil }
func (m *dataMilter) Helo(context.Context, string) *dsn.Status { return nil }
func (m *dataMilter) Mail(context.Context, *queue.Envelope, []string) *dsn.Status {
	return nil
}
func (m *dataMilter) Rcpt(context.Context, *queue.Envelope, string, []string) *dsn.Status {
	return nil
}
func (m *dataMilter) Data(context.Context, *queue.Envelope) *dsn.Status {
	m.data.Add(1)
	if m.refuse.Add(-1) >= 0 {
		return m.refusal
	}
	return nil
}
func (m *dataMilter) Message(ctx context.Context) context.Context { return ctx }
func (m *dataMilter) Reset()                                      {}
func (m *dataMilter) Close()                                      {}

// bdat is a BDAT command with its chunk.
func bdat(chunk string, last bool) string {
	if last {
		return fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk), chunk)
	}
	return fmt.Sprintf("BDAT %d\r\n%s", len(chunk), chunk)
}

// TestBDATMilterRefusal: the milters' DATA event runs at the first BDAT
// chunk, and its refusal answers that chunk; the chunks the client had
// pipelined after it are read and dropped and each answered with the
// same refusal, BDAT LAST included, so a 4xx stays a 4xx for a client
// that reads the last reply. Nothing is queued, the dialogue stays in
// step, and the next transaction is queued as usual.
func TestBDATMilterRefusal(t *testing.T) {
	m := &dataMilter{refusal: &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 7, 1}, Text: "Service unavailable - try again later"}}
	m.refuse.Store(1)
	ts := startServer(t, func(c *Config) { c.Milters = m })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	// A first chunk larger than any buffer on the way, so the refusal
	// comes while go-smtp is still handing it on.
	cl.send(bdat("Subject: chunked\r\n\r\n"+strings.Repeat("body line\r\n", 20000), false) +
		bdat("more body\r\n", false) + bdat("", false) + bdat("the end\r\n", true) + "NOOP\r\n")
	for i, want := range []string{"451 4.7.1 Service unavailable", "451 4.7.1 ", "451 4.7.1 ", "451 4.7.1 ", "250 "} {
		if got := cl.reply(); !strings.HasPrefix(got[len(got)-1], want) {
			t.Fatalf("reply %d: %q, want %q", i+1, got, want)
		}
	}
	// After BDAT LAST the transfer is over: a chunk without a
	// transaction is go-smtp's protocol error, not the old refusal.
	cl.send(bdat("stray\r\n", true)).expect("503 5.5.1 ")
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.send(bdat("Subject: fine\r\n\r\n", false) + bdat("body\r\n", true)).expect("250 ")
	cl.expect("250 2.0.0 Ok: queued as ")
	envs, content := ts.sub.calls()
	if len(envs) != 1 || !strings.Contains(content[0], "Subject: fine\r\n\r\nbody\r\n") {
		t.Fatalf("queued %d messages: %q", len(envs), content)
	}
	if n := m.data.Load(); n != 2 {
		t.Errorf("milter told DATA %d times, want 2", n)
	}
}

// TestBDATPolicyRefusal: the data policy runs in the submitter, which
// reads the whole message, so over BDAT its refusal answers BDAT LAST
// and nothing is queued.
func TestBDATPolicyRefusal(t *testing.T) {
	p := &scriptedPolicy{seen: make(chan *policy.Session, 10), subjects: make(chan string, 10)}
	ts := startServer(t, func(c *Config) { c.Policy = p })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.send(bdat("Subject: spam\r\n\r\n"+strings.Repeat("buy now\r\n", 20000), false) + bdat("buy more\r\n", true))
	cl.expect("250 ")
	cl.expect("554 5.6.0 ")
	cl.cmd("RSET").expect("250 ")
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.send(bdat("Subject: fine\r\n\r\nbody\r\n", true)).expect("250 2.0.0 Ok: queued as ")
	if envs, content := ts.sub.calls(); len(envs) != 1 || !strings.Contains(content[0], "Subject: fine") {
		t.Fatalf("queued %d messages: %q", len(envs), content)
	}
	if got := <-p.subjects; got != "spam" {
		t.Errorf("policy saw subject %q", got)
	}
}

// TestBDATOverSizeLimit: a chunk over the size limit is go-smtp's own
// 552, which ends the transaction; the Data it cut short refuses
// nothing, so a later chunk gets go-smtp's protocol error, never a
// tempfail.
func TestBDATOverSizeLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMessageBytes = 1000 })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.send(bdat("Subject: big\r\n\r\n", false)).expect("250 ")
	cl.send(bdat(strings.Repeat("x", 2000), false)).expect("552 5.3.4 ")
	cl.send(bdat("the end\r\n", true)).expect("503 5.5.1 ")
	cl.cmd("NOOP").expect("250 ")
	if envs, _ := ts.sub.calls(); len(envs) != 0 {
		t.Fatalf("queued %d messages", len(envs))
	}
}

// TestBDATCutShort: RSET or a new EHLO in the middle of a BDAT transfer
// ends it while its Data may still be running the data policy; nothing
// of it is queued, and the next message carries the new greeting. (Run
// with -race: the session's transaction must not change under Data.
// Each cut is on a connection of its own and the next message goes by
// DATA: go-smtp's goroutine for a cut transfer writes its result to the
// connection's field after Data returned, unordered with a new transfer
// that replaces it, which is go-smtp's own race.)
func TestBDATCutShort(t *testing.T) {
	p := &scriptedPolicy{seen: make(chan *policy.Session, 10), subjects: make(chan string, 10)}
	ts := startServer(t, func(c *Config) { c.Policy = p })
	for i, tc := range []struct{ cut, helo string }{{"RSET", "client.example"}, {"EHLO other.example", "other.example"}} {
		cl := dialReady(t, ts.smtp)
		cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
		cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
		cl.send(bdat("Subject: cut\r\n\r\n", false)).expect("250 ")
		cl.cmd(tc.cut).expect("250 ")
		cl.startData("x@local.example")
		cl.send("Subject: whole\r\n\r\nbody\r\n.\r\n").expect("250 2.0.0 Ok: queued as ")
		envs, content := ts.sub.calls()
		if len(envs) != i+1 || !strings.Contains(content[i], "Subject: whole") {
			t.Fatalf("after %s: queued %d messages: %q", tc.cut, len(envs), content)
		}
		if h := envs[i].Client.Helo; h != tc.helo {
			t.Errorf("after %s: queued with HELO %q, want %q", tc.cut, h, tc.helo)
		}
	}
}
