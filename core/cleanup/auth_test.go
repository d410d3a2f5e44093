package cleanup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// withSigner gives c a keyring with one ed25519 key for example.com and
// returns the TXT record that publishes it.
func withSigner(t *testing.T, c *Cleanup) map[string]string {
	t.Helper()
	key, pem, err := auth.GenerateKey("ed25519", 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "example.com.s1.pem")
	os.WriteFile(path, pem, 0o600)
	kr, err := auth.NewKeyring([]config.DKIMSign{{Domain: "example.com", Selector: "s1", Key: path}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.DKIM = &auth.Signer{Keys: kr}
	rec, _ := auth.PublicRecord(key.Public())
	return map[string]string{"s1._domainkey.example.com": rec}
}

func verifyStored(t *testing.T, content string, records map[string]string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(strings.NewReader(content), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if r, ok := records[name]; ok {
				return []string{r}, nil
			}
			return nil, fmt.Errorf("no record %s", name)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestSubmitSignsOriginatingMail(t *testing.T) {
	c, _ := setup(t)
	c.Policy = subjectPolicy{} // signing comes after, so covers its edit
	recs := withSigner(t, c)
	big := strings.Repeat("a line of body text that goes on\r\n", (spillMem/34)+100) // spills to a file
	for name, body := range map[string]string{"small": "hello\r\n", "spilled": big} {
		e := env("bob@example.net")
		e.Client = queue.Client{Proto: "LOCAL"}
		id, err := c.Submit(context.Background(), e, strings.NewReader("From: Joe <joe@example.com>\r\nSubject: hi\r\n\r\n"+body))
		if err != nil {
			t.Fatal(err)
		}
		_, content := stored(t, c, queue.Incoming, id)
		if !strings.HasPrefix(content, "DKIM-Signature:") {
			t.Fatalf("%s: not signed on top:\n%.300s", name, content)
		}
		vs := verifyStored(t, content, recs)
		if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.com" {
			t.Fatalf("%s: %+v", name, vs[0])
		}
		if !strings.Contains(content, "Subject: [tagged] hi\r\n") {
			t.Errorf("%s: the policy's edit is missing", name)
		}
		if !strings.HasSuffix(content, body) {
			t.Errorf("%s: body changed", name)
		}
	}
}

func TestSubmitLeavesRelayedMailUnsigned(t *testing.T) {
	c, _ := setup(t)
	withSigner(t, c)
	e := env("bob@example.net")
	e.Client = queue.Client{Proto: "ESMTP", Addr: "203.0.113.5"}
	id, err := c.Submit(context.Background(), e, strings.NewReader("From: joe@example.com\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, content := stored(t, c, queue.Incoming, id); strings.Contains(content, "DKIM-Signature") {
		t.Fatalf("relayed mail signed:\n%s", content)
	}
}

type subjectPolicy struct{}

func (subjectPolicy) Cleanup(_ context.Context, m *policy.Message) (policy.Verdict, error) {
	m.Header.Set("Subject", "[tagged] "+m.Header.Get("Subject"))
	return policy.Verdict{Action: policy.Accept}, nil
}

// choosingPolicy asks for signatures like msg:dkim_sign does.
type choosingPolicy struct{ choice *policy.DKIMChoice }

func (p choosingPolicy) Cleanup(_ context.Context, m *policy.Message) (policy.Verdict, error) {
	m.DKIM = p.choice
	return policy.Verdict{Action: policy.Accept}, nil
}

func TestSubmitSignsWhatPolicyChose(t *testing.T) {
	c, _ := setup(t)
	recs := withSigner(t, c)
	c.Policy = choosingPolicy{&policy.DKIMChoice{Requests: []policy.SignRequest{{Domain: "example.com"}}}}
	e := env("bob@example.net")
	e.Client = queue.Client{Proto: "ESMTP", Addr: "203.0.113.5"} // relayed, yet chosen
	id, err := c.Submit(context.Background(), e, strings.NewReader("From: other@example.org\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, content := stored(t, c, queue.Incoming, id)
	if vs := verifyStored(t, content, recs); len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("%+v", vs)
	}

	c.Policy = choosingPolicy{&policy.DKIMChoice{Requests: []policy.SignRequest{{Domain: "nokey.example"}}}}
	_, err = c.Submit(context.Background(), env("bob@example.net"), strings.NewReader("From: a@nokey.example\r\n\r\nhi\r\n"))
	if dsn.FromError(err) != dsn.TempPolicy {
		t.Fatalf("a signature that cannot be made: %v", err)
	}
}

// fakeVerifier records what it was given and returns fixed results.
type fakeVerifier struct {
	body string
}

func (f *fakeVerifier) Applies(env *queue.Envelope) bool { return env.Client.Proto != "LOCAL" }

func (f *fakeVerifier) Check(_ context.Context, _ *queue.Envelope, _ *textproto.Header, body io.Reader) *policy.AuthResults {
	b, _ := io.ReadAll(body)
	f.body = string(b)
	return &policy.AuthResults{SPF: "fail", DMARC: policy.DMARCResult{Result: "fail", Policy: "reject", Disposition: "reject", Domain: "example.org"}}
}

func (f *fakeVerifier) Stamp(h *textproto.Header, res *policy.AuthResults) {
	h.Add("Authentication-Results", "mx.example.com; spf="+res.SPF)
}

// seeingPolicy keeps what the policy saw.
type seeingPolicy struct {
	auth *policy.AuthResults
	ar   string
}

func (p *seeingPolicy) Cleanup(_ context.Context, m *policy.Message) (policy.Verdict, error) {
	p.auth, p.ar = m.Auth, m.Header.Get("Authentication-Results")
	return policy.Verdict{Action: policy.Accept}, nil
}

func TestSubmitVerifiesBeforePolicy(t *testing.T) {
	c, _ := setup(t)
	fv, sp := &fakeVerifier{}, &seeingPolicy{}
	c.Verify, c.Policy = fv, sp
	e := env("bob@example.net")
	e.Client = queue.Client{Proto: "ESMTP", Addr: "203.0.113.5"}
	id, err := c.Submit(context.Background(), e, strings.NewReader("From: a@example.org\r\n\r\nthe body\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fv.body != "the body\r\n" || sp.auth == nil || sp.auth.DMARC.Policy != "reject" || sp.ar != "mx.example.com; spf=fail" {
		t.Fatalf("verifier saw %q; policy saw %+v %q", fv.body, sp.auth, sp.ar)
	}
	if _, content := stored(t, c, queue.Incoming, id); !strings.HasPrefix(content, "Authentication-Results: mx.example.com; spf=fail\r\n") ||
		!strings.HasSuffix(content, "\r\n\r\nthe body\r\n") {
		t.Fatalf("stored:\n%s", content)
	}

	// Local mail is not checked; the policy sees no results.
	e = env("bob@example.net")
	e.Client = queue.Client{Proto: "LOCAL"}
	fv.body = ""
	if _, err := c.Submit(context.Background(), e, strings.NewReader("From: a@example.org\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if fv.body != "" || sp.auth != nil {
		t.Fatalf("local mail checked: %q %+v", fv.body, sp.auth)
	}
}

func TestSubmitSignedTooBig(t *testing.T) {
	c, _ := setup(t)
	withSigner(t, c)
	c.SizeLimit = 1000
	e := env("bob@example.net")
	e.Client = queue.Client{Proto: "LOCAL"}
	_, err := c.Submit(context.Background(), e, strings.NewReader("From: joe@example.com\r\n\r\n"+strings.Repeat("x", spillMem+5000)))
	if dsn.FromError(err) != dsn.MessageTooBig {
		t.Fatalf("err = %v", err)
	}
}

func TestForwardIsSealedWithARC(t *testing.T) {
	c, _ := setup(t)
	withSigner(t, c)
	c.DKIM.ARCDomain, c.DKIM.ARCSelector, c.DKIM.AuthservID = "example.com", "s1", "mx.example.com"
	for _, forward := range []bool{true, false} {
		e := env("bob@example.net")
		e.Client = queue.Client{Proto: "LOCAL"}
		id, err := c.SubmitWith(context.Background(), e, strings.NewReader("Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.org\r\n"+
			"From: a@example.org\r\nSubject: fwd\r\n\r\nforwarded\r\n"), Options{Forward: forward})
		if err != nil {
			t.Fatal(err)
		}
		_, content := stored(t, c, queue.Incoming, id)
		sealed := strings.HasPrefix(content, "ARC-Seal: i=1;") &&
			strings.Contains(strings.ReplaceAll(content, "\r\n\t", " "), "ARC-Authentication-Results: i=1; mx.example.com; spf=pass")
		if sealed != forward {
			t.Fatalf("forward=%v, sealed=%v:\n%s", forward, sealed, content)
		}
	}
}

// The DATA policy runs after the checks, with their results, and before
// the cleanup policy; its refusal is the submission's answer and
// nothing is queued.
func TestSubmitSMTPDataCheckSeesAuth(t *testing.T) {
	c, notified := setup(t)
	fv, sp := &fakeVerifier{}, &seeingPolicy{}
	c.Verify, c.Policy = fv, sp
	var seen *policy.AuthResults
	var ar string
	refuse := func(_ context.Context, h *textproto.Header, a *policy.AuthResults) *dsn.Status {
		seen, ar = a, h.Get("Authentication-Results")
		if a != nil && a.DMARC.Disposition == "reject" {
			return dsn.New(550, "5.7.1", "DMARC policy of example.org says reject")
		}
		return nil
	}
	e := env("bob@example.net")
	e.Client = queue.Client{Proto: "ESMTP", Addr: "203.0.113.5"}
	_, err := c.SubmitSMTP(context.Background(), e, strings.NewReader("From: a@example.org\r\n\r\nthe body\r\n"), refuse)
	if st := dsn.FromError(err); st.Code != 550 || st.Enhanced.String() != "5.7.1" {
		t.Fatalf("refusal: %v", err)
	}
	if seen == nil || seen.DMARC.Policy != "reject" || ar != "mx.example.com; spf=fail" {
		t.Fatalf("DATA check saw %+v %q", seen, ar)
	}
	if sp.auth != nil {
		t.Error("the cleanup policy ran after the DATA policy refused")
	}
	if len(*notified) != 0 {
		t.Fatalf("%d messages queued after the refusal", len(*notified))
	}

	// Mail that is not checked reaches the DATA policy with no results,
	// and is queued when it says nothing.
	e = env("bob@example.net")
	e.Client = queue.Client{Proto: "LOCAL"}
	if _, err := c.SubmitSMTP(context.Background(), e, strings.NewReader("From: a@example.org\r\n\r\nx\r\n"), refuse); err != nil {
		t.Fatal(err)
	}
	if seen != nil || len(*notified) != 1 {
		t.Fatalf("unchecked mail: DATA check saw %+v, %d queued", seen, len(*notified))
	}
}
