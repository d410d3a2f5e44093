package cleanup

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

type fakePolicy struct {
	verdict policy.Verdict
	err     error
	seen    *policy.Message
}

func (f *fakePolicy) Cleanup(_ context.Context, m *policy.Message) (policy.Verdict, error) {
	f.seen = m
	m.Header.Add("X-Policy", "seen")
	return f.verdict, f.err
}

func setup(t *testing.T) (*Cleanup, *[]queue.ID) {
	t.Helper()
	s, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var notified []queue.ID
	c := &Cleanup{Store: s, Hostname: "mx.example.com", SizeLimit: 1 << 20,
		Rewriter: AppendOrigin{Origin: "example.com"}, Notify: func(id queue.ID) { notified = append(notified, id) }}
	return c, &notified
}

func env(rcpts ...string) *queue.Envelope {
	e := &queue.Envelope{Sender: "alice@example.org"}
	for _, r := range rcpts {
		e.Recipients = append(e.Recipients, queue.Recipient{Addr: r, State: queue.Pending})
	}
	return e
}

func stored(t *testing.T, c *Cleanup, st queue.State, id queue.ID) (*queue.Message, string) {
	t.Helper()
	m, err := c.Store.Read(st, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, _ := io.ReadAll(m.Open())
	return m, string(b)
}

func TestSubmitAddsMissingHeaders(t *testing.T) {
	c, notified := setup(t)
	id, err := c.Submit(context.Background(), env("bob@example.com"),
		strings.NewReader("Subject: hi\nBcc: secret@example.com\nTo: bob@example.com\n\nline1\nline2\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, content := stored(t, c, queue.Incoming, id)
	for _, want := range []string{"Message-ID: <", "." + string(id) + "@mx.example.com>", "Date: ", "Subject: hi\r\nTo: bob@example.com\r\nFrom: <alice@example.org>\r\nDate: ", "\r\n\r\nline1\r\nline2\r\n"} {
		if !strings.Contains(content, want) {
			t.Errorf("missing %q in\n%s", want, content)
		}
	}
	if strings.Contains(content, "secret") {
		t.Error("Bcc kept")
	}
	if len(*notified) != 1 || (*notified)[0] != id {
		t.Errorf("notify = %v", *notified)
	}
}

func TestLenientHeaders(t *testing.T) {
	c, _ := setup(t)
	for in, want := range map[string]string{
		"just a body\nmore\n":            "@mx.example.com>\r\n\r\njust a body\r\nmore\r\n",
		"Subject: x\nnot a header\n":     "@mx.example.com>\r\n\r\nnot a header\r\n",
		"Subject: folded\n\tcontinued\n": "Subject: folded\r\n\tcontinued\r\nFrom: <alice@example.org>\r\n",
		"Subject: no newline":            "Subject: no newline\r\nFrom: <alice@example.org>\r\n",
	} {
		id, err := c.Submit(context.Background(), env("b@example.com"), strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		_, content := stored(t, c, queue.Incoming, id)
		if !strings.Contains(content, want) {
			t.Errorf("%q stored as %q", in, content)
		}
	}
}

func TestSmugglingIsNeutralised(t *testing.T) {
	c, _ := setup(t)
	id, err := c.Submit(context.Background(), env("b@example.com"),
		strings.NewReader("Subject: s\r\n\r\nx\n.\r\nMAIL FROM:<evil@x>\r\nx\r.\rRCPT TO:<y@z>\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, content := stored(t, c, queue.Incoming, id)
	if !strings.Contains(content, "x\r\n.\r\nMAIL FROM:<evil@x>\r\nx\r\n.\r\nRCPT TO:<y@z>\r\n") {
		t.Errorf("content %q", content)
	}
}

func TestExtractRecipients(t *testing.T) {
	c, _ := setup(t)
	e := env()
	id, err := c.SubmitWith(context.Background(), e, strings.NewReader(
		"To: Bob <bob@example.com>, carol\nCc: dave@example.net\nBcc: eve@example.net\n\nhi\n"), Options{Extract: true})
	if err != nil {
		t.Fatal(err)
	}
	m, content := stored(t, c, queue.Incoming, id)
	var got []string
	for _, r := range m.Recipients {
		got = append(got, r.Addr)
	}
	if strings.Join(got, " ") != "bob@example.com carol@example.com dave@example.net eve@example.net" {
		t.Errorf("recipients %v", got)
	}
	if strings.Contains(content, "eve@") {
		t.Error("Bcc left in content")
	}
	if !strings.Contains(content, "To: \"Bob\" <bob@example.com>, <carol@example.com>\r\nCc: dave@example.net\r\nFrom:") {
		t.Errorf("header rewriting lost order or values: %q", content)
	}
}

func TestPolicyVerdicts(t *testing.T) {
	msg := "Subject: v\r\n\r\nbody\r\n"
	cases := []struct {
		name    string
		pol     *fakePolicy
		wantErr *dsn.Status
		state   queue.State
	}{
		{"accept", &fakePolicy{}, nil, queue.Incoming},
		{"hold", &fakePolicy{verdict: policy.Verdict{Action: policy.Hold, Reason: "looks odd"}}, nil, queue.Hold},
		{"reject", &fakePolicy{verdict: policy.Verdict{Action: policy.Reject, Status: dsn.New(550, "5.7.1", "no thanks")}}, dsn.New(550, "5.7.1", "no thanks"), ""},
		{"reject without status", &fakePolicy{verdict: policy.Verdict{Action: policy.Reject}}, dsn.TempPolicy, ""},
		{"error", &fakePolicy{err: errors.New("script exploded")}, dsn.TempPolicy, ""},
		{"discard", &fakePolicy{verdict: policy.Verdict{Action: policy.Discard}}, nil, ""},
	}
	for _, tc := range cases {
		c, notified := setup(t)
		c.Policy = tc.pol
		id, err := c.Submit(context.Background(), env("b@example.com"), strings.NewReader(msg))
		st := dsn.FromError(err)
		if (st == nil) != (tc.wantErr == nil) || (st != nil && *st != *tc.wantErr) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
		for _, s := range []queue.State{queue.Incoming, queue.Hold} {
			ents, _ := c.Store.List(s)
			if want := s == tc.state; (len(ents) == 1) != want {
				t.Errorf("%s: %d files in %s", tc.name, len(ents), s)
			}
		}
		if tc.state == queue.Hold {
			m, content := stored(t, c, queue.Hold, id)
			if m.HoldReason != "looks odd" || !strings.Contains(content, "X-Policy: seen") {
				t.Errorf("hold: reason %q content %q", m.HoldReason, content)
			}
			if len(*notified) != 0 {
				t.Error("held message handed to qmgr")
			}
		}
	}
}

func TestLimits(t *testing.T) {
	c, _ := setup(t)
	c.SizeLimit = 100
	_, err := c.Submit(context.Background(), env("b@example.com"), strings.NewReader("Subject: x\n\n"+strings.Repeat("a", 200)))
	if dsn.FromError(err) != dsn.MessageTooBig {
		t.Errorf("size: %v", err)
	}
	c.SizeLimit, c.HeaderLimit = 0, 1000
	_, err = c.Submit(context.Background(), env("b@example.com"), strings.NewReader("X-Long: "+strings.Repeat("a", 2000)+"\n\nbody"))
	if dsn.FromError(err) != dsn.HeaderTooBig {
		t.Errorf("header: %v", err)
	}
	c.HeaderLimit = 0
	hops := strings.Repeat("Received: from x by y\n", 50)
	_, err = c.Submit(context.Background(), env("b@example.com"), strings.NewReader(hops+"\nloop"))
	if st := dsn.FromError(err); st == nil || st.Enhanced != (dsn.Enhanced{5, 4, 6}) {
		t.Errorf("hops: %v", err)
	}
	_, err = c.Submit(context.Background(), env(), strings.NewReader("Subject: none\n\n"))
	if st := dsn.FromError(err); st == nil || st.Code != 554 {
		t.Errorf("no recipients: %v", err)
	}
	if ents, _ := c.Store.List(queue.Incoming); len(ents) != 0 {
		t.Errorf("refused messages were queued: %v", ents)
	}
}

func TestAppendOrigin(t *testing.T) {
	c, _ := setup(t)
	e := &queue.Envelope{Sender: "alice", Recipients: []queue.Recipient{{Addr: "bob"}, {Addr: "x@y.z"}}}
	id, err := c.Submit(context.Background(), e, strings.NewReader("From: alice\nTo: bob, x@y.z\n\nhi\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, content := stored(t, c, queue.Incoming, id)
	if m.Sender != "alice@example.com" || m.Recipients[0].Addr != "bob@example.com" || m.Recipients[1].Addr != "x@y.z" {
		t.Errorf("envelope %+v", m.Envelope)
	}
	if !strings.Contains(content, "From: <alice@example.com>\r\nTo: <bob@example.com>, <x@y.z>\r\n") {
		t.Errorf("content %q", content)
	}
}
