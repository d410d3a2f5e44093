package bounce

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

func setup(t *testing.T) (*Service, *queue.Store) {
	t.Helper()
	st, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cl := &cleanup.Cleanup{Store: st, Hostname: "mx.example.com"}
	return &Service{Hostname: "mx.example.com", Postmaster: "postmaster@example.com", Submitter: cl,
		RetryFor: 5 * 24 * time.Hour}, st
}

// original queues a message and reads it back as the queue manager would.
func original(t *testing.T, s *Service, st *queue.Store, sender string, rcpts ...queue.Recipient) *queue.Message {
	t.Helper()
	id, err := s.Submitter.Submit(context.Background(), &queue.Envelope{Sender: sender, Recipients: rcpts, EnvID: "env-7"},
		strings.NewReader("Subject: original\r\n\r\nthe body\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Read(queue.Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	st.Move(id, queue.Incoming, queue.Active)
	t.Cleanup(func() { m.Close() })
	return m
}

func notices(t *testing.T, st *queue.Store, skip queue.ID) []*queue.Message {
	t.Helper()
	ents, _ := st.List(queue.Incoming)
	var out []*queue.Message
	for _, e := range ents {
		if e.ID == skip {
			continue
		}
		m, err := st.Read(queue.Incoming, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		out = append(out, m)
	}
	return out
}

func TestBounceGoesToSenderFromNullSender(t *testing.T) {
	s, st := setup(t)
	m := original(t, s, st, "alice@example.org",
		queue.Recipient{Addr: "bob@remote.test", ORcpt: "rfc822;Bob@remote.test", Reason: "550 5.1.1 no such user", State: queue.Failed},
		queue.Recipient{Addr: "carol@remote.test", Notify: "NEVER", Reason: "550 5.1.1 gone", State: queue.Failed})
	m.Recipients[0].Reason, m.Recipients[1].Reason = "550 5.1.1 no such user", "550 5.1.1 gone"
	if err := s.Notify(context.Background(), m, qmgr.NoticeFailure, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	ns := notices(t, st, m.ID)
	if len(ns) != 1 {
		t.Fatalf("%d notices", len(ns))
	}
	n := ns[0]
	if n.Sender != "" || n.Recipients[0].Addr != "alice@example.org" {
		t.Fatalf("notice envelope %+v", n.Envelope)
	}
	rep, err := dsn.ParseReport(n.Open())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].Final.Value != "bob@remote.test" ||
		rep.Recipients[0].Status != (dsn.Enhanced{5, 1, 1}) || rep.Message.EnvID != "env-7" {
		t.Fatalf("report %+v", rep.Recipients)
	}
	body, _ := io.ReadAll(n.Open())
	if !strings.Contains(string(body), "the body") {
		t.Error("original not returned")
	}
}

func TestBounceOfBounceGoesToPostmasterThenStops(t *testing.T) {
	s, st := setup(t)
	m := original(t, s, st, "", queue.Recipient{Addr: "alice@example.org", Reason: "550 5.1.1 gone"})
	m.Recipients[0].Reason = "550 5.1.1 gone"
	if err := s.Notify(context.Background(), m, qmgr.NoticeFailure, []int{0}); err != nil {
		t.Fatal(err)
	}
	ns := notices(t, st, m.ID)
	if len(ns) != 1 || ns[0].Recipients[0].Addr != "postmaster@example.com" || !dsn.IsDoubleBounceSender(ns[0].Sender) {
		t.Fatalf("double bounce %+v", ns)
	}
	// The double bounce itself fails: nothing more is sent.
	db := ns[0]
	db.Recipients[0].Reason = "550 5.1.1 postmaster unknown"
	if err := s.Notify(context.Background(), db, qmgr.NoticeFailure, []int{0}); err != nil {
		t.Fatal(err)
	}
	if n := len(notices(t, st, m.ID)); n != 1 {
		t.Fatalf("%d notices after a failed double bounce", n)
	}
}

func TestDelayNoticeRespectsNotify(t *testing.T) {
	s, st := setup(t)
	m := original(t, s, st, "alice@example.org",
		queue.Recipient{Addr: "a@r.test", Notify: "FAILURE"},
		queue.Recipient{Addr: "b@r.test", Notify: "DELAY"})
	m.Recipients[1].Reason = "451 4.4.1 connection refused"
	if err := s.Notify(context.Background(), m, qmgr.NoticeDelay, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	ns := notices(t, st, m.ID)
	if len(ns) != 1 {
		t.Fatalf("%d notices", len(ns))
	}
	rep, err := dsn.ParseReport(ns[0].Open())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].Final.Value != "b@r.test" || rep.Recipients[0].Action != "delayed" {
		t.Fatalf("report %+v", rep.Recipients)
	}
}

// The notice comes from MAILER-DAEMON with the "Mail Delivery System"
// comment; a remote failure names its Remote-MTA with an smtp diagnostic,
// a local one has neither.
func TestBounceNamesRemoteMTAAndDiagnosticType(t *testing.T) {
	s, st := setup(t)
	m := original(t, s, st, "alice@example.org",
		queue.Recipient{Addr: "bob@remote.test", State: queue.Failed},
		queue.Recipient{Addr: "nobody@example.com", State: queue.Failed})
	m.Recipients[0].Reason, m.Recipients[0].Relay = "550 5.1.1 no such user", "mx1.remote.test[192.0.2.7]:25"
	m.Recipients[1].Reason, m.Recipients[1].Relay = "550 5.1.1 unknown user", "local"
	if err := s.Notify(context.Background(), m, qmgr.NoticeFailure, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	ns := notices(t, st, m.ID)
	if len(ns) != 1 {
		t.Fatalf("%d notices", len(ns))
	}
	body, _ := io.ReadAll(ns[0].Open())
	text := string(body)
	for _, want := range []string{
		"From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n",
		"Remote-MTA: dns; mx1.remote.test\r\n",
		"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n",
		"Diagnostic-Code: x-moonpost; 550 5.1.1 unknown user\r\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("notice lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "Remote-MTA:") != 1 || strings.Contains(text, "smtp; 550 5.1.1 unknown user") {
		t.Errorf("local failure reported as remote:\n%s", text)
	}
}
