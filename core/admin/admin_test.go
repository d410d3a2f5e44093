package admin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// fakeManager records actions; IDs in gone answer ErrNotFound.
type fakeManager struct {
	mu     sync.Mutex
	did    []string
	gone   map[queue.ID]bool
	flushN int
}

func (f *fakeManager) Apply(_ context.Context, id queue.ID, op qmgr.Op, text string) (queue.State, qmgr.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone[id] {
		return "", qmgr.Unchanged, queue.ErrNotFound
	}
	f.did = append(f.did, op.String()+" "+string(id)+" "+text)
	return queue.Deferred, qmgr.Applied, nil
}

func (f *fakeManager) Flush(context.Context) int { return f.flushN }

type fixture struct {
	t     *testing.T
	store *queue.Store
	adm   *Admin
	mgr   *fakeManager
	clean *cleanup.Cleanup
	n     int // messages added: the next arrives at t0 + n+1 hours
}

func newFixture(t *testing.T) *fixture {
	store, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mgr := &fakeManager{gone: map[queue.ID]bool{}}
	f := &fixture{t: t, store: store, mgr: mgr,
		adm: &Admin{Store: store, Manager: mgr, Now: func() time.Time { return t0.Add(48 * time.Hour) }}}
	f.clean = &cleanup.Cleanup{Store: store, Hostname: "mx.test", Now: func() time.Time { return t0.Add(time.Duration(f.n) * time.Hour) }}
	return f
}

// add queues a message and moves it to st, with a deferral reason for
// every recipient when reason is set.
func (f *fixture) add(st queue.State, sender, reason string, rcpts ...string) queue.ID {
	f.t.Helper()
	f.n++
	env := &queue.Envelope{Sender: sender}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: r})
	}
	id, err := f.clean.Submit(context.Background(), env, strings.NewReader("Subject: hi\r\nX-Test: 1\r\n\r\nline one\r\nline two\r\n"))
	if err != nil {
		f.t.Fatal(err)
	}
	if st != queue.Incoming {
		if err := f.store.Move(id, queue.Incoming, st); err != nil {
			f.t.Fatal(err)
		}
	}
	if reason != "" {
		m, err := f.store.Read(st, id)
		if err != nil {
			f.t.Fatal(err)
		}
		for i := range rcpts {
			m.Append(queue.RcptDeferred(i, reason))
		}
		m.Append(queue.Attempt(1, t0.Add(72*time.Hour)))
		m.Close()
	}
	return id
}

func compile(t *testing.T, kv ...string) Filter {
	t.Helper()
	var s Spec
	for i := 0; i < len(kv); i += 2 {
		if err := s.Set(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	f, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestListFilters(t *testing.T) {
	f := newFixture(t)
	a := f.add(queue.Deferred, "alice@a.test", "451 4.4.1 connection refused", "u@down.test", "v@up.test")
	b := f.add(queue.Deferred, "bob@b.test", "450 4.2.0 mailbox busy", "w@up.test")
	c := f.add(queue.Hold, "", "", "x@down.test")
	d := f.add(queue.Incoming, "carol@a.test", "", "y@down.test")
	for _, tc := range []struct {
		name string
		kv   []string
		want []queue.ID
	}{
		{"all", nil, []queue.ID{d, a, b, c}},
		{"state", []string{"state", "deferred,hold"}, []queue.ID{a, b, c}},
		{"sender", []string{"sender", "Alice@A.test"}, []queue.ID{a}},
		{"sender domain", []string{"sender", "@a.test"}, []queue.ID{d, a}},
		{"null sender", []string{"sender", "<>"}, []queue.ID{c}},
		{"rcpt domain", []string{"rcpt_domain", "down.test"}, []queue.ID{d, a, c}},
		{"reason", []string{"reason_match", `4\.4\.1`}, []queue.ID{a}},
		{"older", []string{"older_than", "45h30m"}, []queue.ID{a, b}},
		{"older days", []string{"older_than", "1.95d"}, []queue.ID{a}},
		{"limit", []string{"limit", "2"}, []queue.ID{d, a}},
		{"combined", []string{"state", "deferred", "rcpt_domain", "up.test", "reason_match", "busy"}, []queue.ID{b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ents, err := f.adm.List(context.Background(), compile(t, tc.kv...))
			if err != nil {
				t.Fatal(err)
			}
			var got []queue.ID
			for _, e := range ents {
				got = append(got, e.ID)
			}
			if strings.Join(ids(got), " ") != strings.Join(ids(tc.want), " ") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func ids(in []queue.ID) []string {
	out := make([]string, len(in))
	for i, id := range in {
		out[i] = string(id)
	}
	return out
}

func TestSpecErrors(t *testing.T) {
	var s Spec
	for _, kv := range [][2]string{{"sendr", "x"}, {"limit", "-1"}, {"limit", "lots"}} {
		if err := s.Set(kv[0], kv[1]); err == nil {
			t.Errorf("Set(%q, %q) accepted", kv[0], kv[1])
		}
	}
	for _, bad := range []Spec{{State: []string{"../x"}}, {OlderThan: "soon"}, {ReasonMatch: "("}} {
		if _, err := bad.Compile(); err == nil {
			t.Errorf("%+v compiled", bad)
		}
	}
}

func TestDoAndDryRun(t *testing.T) {
	f := newFixture(t)
	a := f.add(queue.Deferred, "alice@a.test", "451 4.4.1 refused", "u@down.test")
	b := f.add(queue.Deferred, "bob@b.test", "451 4.4.1 refused", "v@down.test")
	f.add(queue.Maildrop, "m@a.test", "", "z@down.test") // not selected by actions
	sel := Selection{Filter: compile(t, "rcpt_domain", "down.test")}
	r, err := f.adm.Do(context.Background(), qmgr.OpHold, sel, "outage", true)
	if err != nil || r.Count != 2 || len(f.mgr.did) != 0 {
		t.Fatalf("dry run: %+v %v, did %v", r, err, f.mgr.did)
	}
	f.mgr.gone[b] = true
	r, err = f.adm.Do(context.Background(), qmgr.OpHold, sel, "outage", false)
	if err != nil || r.Applied != 1 || r.Gone != 1 || len(f.mgr.did) != 1 || f.mgr.did[0] != "hold "+string(a)+" outage" {
		t.Fatalf("hold: %+v %v, did %v", r, err, f.mgr.did)
	}
	if _, err := f.adm.Do(context.Background(), qmgr.OpDelete, Selection{IDs: []queue.ID{a, "../../etc/passwd"}}, "", false); err == nil {
		t.Fatal("a path was accepted as an ID")
	}
	ro := &Admin{Store: f.store}
	if _, err := ro.Do(context.Background(), qmgr.OpDelete, Selection{IDs: []queue.ID{a}}, "", false); !errors.Is(err, ErrNoManager) {
		t.Fatalf("read-only admin: %v", err)
	}
	r, err = f.adm.Flush(context.Background(), "down.test", false)
	if err != nil || r.Op != "flush" || r.Count != 2 {
		t.Fatalf("flush domain: %+v %v", r, err)
	}
}

func TestStatsAndGet(t *testing.T) {
	f := newFixture(t)
	a := f.add(queue.Deferred, "alice@a.test", "451 4.4.1 refused", "u@down.test", "v@down.test", "w@slow.test")
	f.add(queue.Deferred, "bob@b.test", "451 4.4.1 refused", "x@slow.test")
	f.add(queue.Deferred, "bob@b.test", "451 4.4.1 refused", "y@slow.test")
	f.add(queue.Hold, "bob@b.test", "", "z@down.test")
	s, err := f.adm.Stats(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.States[queue.Deferred].Messages != 3 || s.States[queue.Hold].Messages != 1 || s.Total.Messages != 4 || s.Total.Bytes == 0 {
		t.Fatalf("counts %+v total %+v", s.States, s.Total)
	}
	want := []DomainCount{{"slow.test", 3, 3}, {"down.test", 1, 2}}
	if len(s.TopDeferred) != 2 || s.TopDeferred[0] != want[0] || s.TopDeferred[1] != want[1] {
		t.Fatalf("top deferred %+v", s.TopDeferred)
	}
	if s.Oldest == nil || s.Oldest.ID != a || s.Oldest.Age != "47h0m0s" {
		t.Fatalf("oldest %+v", s.Oldest)
	}
	m, err := f.adm.Get(a, 10)
	if err != nil {
		t.Fatal(err)
	}
	if m.Sender != "alice@a.test" || len(m.Recipients) != 3 || m.Body != "line one\r\n" || !m.Truncated {
		t.Fatalf("get: %+v", m)
	}
	found := false
	for _, h := range m.Headers {
		found = found || (h.Name == "X-Test" && h.Value == "1")
	}
	if !found {
		t.Fatalf("headers %+v", m.Headers)
	}
	if _, err := f.adm.Get("../../../etc/passwd", 10); err == nil {
		t.Fatal("get accepted a path")
	}
	if _, err := f.adm.Get("0123456789ABCDEF01", 0); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("get of a missing ID: %v", err)
	}
}
