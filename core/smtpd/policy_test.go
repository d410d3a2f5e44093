package smtpd

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

// scriptedPolicy rejects what it is told to and records what it saw.
type scriptedPolicy struct {
	AllowAll
	rcptErr  error
	seen     chan *policy.Session
	subjects chan string
}

func (p *scriptedPolicy) Rcpt(_ context.Context, s *policy.Session, to string) (*dsn.Status, error) {
	p.seen <- s
	if p.rcptErr != nil {
		return nil, p.rcptErr
	}
	if strings.HasPrefix(to, "nobody@") {
		return dsn.UnknownUser, nil
	}
	return nil, nil
}

func (p *scriptedPolicy) Data(_ context.Context, _ *policy.Session, h *textproto.Header, _ *policy.AuthResults) (*dsn.Status, error) {
	p.subjects <- h.Get("Subject")
	if h.Get("Subject") == "spam" {
		return dsn.BadMessage, nil
	}
	return nil, nil
}

func TestPolicyVerdicts(t *testing.T) {
	p := &scriptedPolicy{seen: make(chan *policy.Session, 10), subjects: make(chan string, 10)}
	ts := startServer(t, func(c *Config) { c.Policy = p })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example> SIZE=1234").expect("250 ")
	cl.cmd("RCPT TO:<nobody@local.example>").expect("550 5.1.1")
	// Relay control runs before policy: policy never sees a relay attempt.
	cl.cmd("RCPT TO:<x@remote.example>").expect("554 5.7.1")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	if s := <-p.seen; s.Helo != "client.example" || s.Sender != "a@b.example" || s.Listener != "smtp" || s.ID == "" || s.Size != 1234 {
		t.Errorf("policy session %+v", s)
	}
	<-p.seen
	if len(p.seen) != 0 {
		t.Error("policy consulted about a relay attempt")
	}
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: spam\r\n\r\nbuy\r\n.\r\n")
	cl.expect("554 5.6.0")
	if got := <-p.subjects; got != "spam" {
		t.Errorf("policy saw subject %q", got)
	}
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	<-p.seen
	cl.cmd("DATA").expect("354 ")
	// A header longer than bufio's buffer, with a bare LF line end.
	header := "Subject: fine\r\n" + strings.Repeat("X-Long: "+strings.Repeat("y", 1500)+"\r\n", 6) + "X-Bare: lf\n"
	cl.send(header + "\r\nbody\r\n.\r\n")
	cl.expect("250 ")
	_, content := ts.sub.calls()
	if len(content) != 1 || !strings.HasSuffix(content[0], header+"\r\nbody\r\n") {
		t.Errorf("header not replayed byte for byte: %q", content)
	}
}

func TestPolicyErrorIsTemporary(t *testing.T) {
	p := &scriptedPolicy{seen: make(chan *policy.Session, 10), rcptErr: errBoom}
	ts := startServer(t, func(c *Config) { c.Policy = p })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("451 4.3.0")
}

// selectivePolicy has no DATA handler and says so.
type selectivePolicy struct {
	AllowAll
	dataCalls chan struct{}
}

func (p *selectivePolicy) Handles(event string) bool { return event != "data" }

func (p *selectivePolicy) Data(context.Context, *policy.Session, *textproto.Header, *policy.AuthResults) (*dsn.Status, error) {
	p.dataCalls <- struct{}{}
	return nil, nil
}

// A policy without DATA handlers is not consulted at DATA, and the
// message is queued as it came.
func TestPolicyWithoutDataHandler(t *testing.T) {
	p := &selectivePolicy{dataCalls: make(chan struct{}, 1)}
	ts := startServer(t, func(c *Config) { c.Policy = p })
	cl := dialReady(t, ts.smtp)
	cl.startData("x@local.example")
	cl.send("Subject: s\r\n\r\n..body\r\n.\r\n")
	cl.expect("250 ")
	if len(p.dataCalls) != 0 {
		t.Error("Data called on a policy without DATA handlers")
	}
	_, content := ts.sub.calls()
	if len(content) != 1 || !strings.HasSuffix(content[0], "\r\nSubject: s\r\n\r\n.body\r\n") {
		t.Errorf("content %q", content)
	}
}

// tenantPolicy names the tenant and notes metadata at DATA.
type tenantPolicy struct{ AllowAll }

func (tenantPolicy) Data(_ context.Context, s *policy.Session, h *textproto.Header, _ *policy.AuthResults) (*dsn.Status, error) {
	s.Meta["subject"] = h.Get("Subject")
	*s.Tenant = "acme"
	return nil, nil
}

// What the DATA policy sets on the session is the message's: its
// metadata and tenant are queued with it.
func TestDataPolicySetsMessageMetaAndTenant(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Policy = tenantPolicy{} })
	cl := dialReady(t, ts.smtp)
	cl.startData("x@local.example")
	cl.send("Subject: invoice\r\n\r\nbody\r\n.\r\n")
	cl.expect("250 ")
	envs, _ := ts.sub.calls()
	if len(envs) != 1 || envs[0].Meta["subject"] != "invoice" || envs[0].Tenant != "acme" {
		t.Fatalf("queued envelope: %+v", envs)
	}
}
