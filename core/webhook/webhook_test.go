package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

// receiver is a loopback HTTP server that refuses batches while failing
// is set and records the ones it takes.
type receiver struct {
	*httptest.Server
	failing  atomic.Bool
	refused  atomic.Int64
	mu       sync.Mutex
	events   []Event
	authSeen string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if r.failing.Load() {
			r.refused.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var evs []Event
		if err := json.Unmarshal(body, &evs); err != nil || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.events = append(r.events, evs...)
		r.authSeen = req.Header.Get("Authorization")
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func testConfig(url, dir string) Config {
	return Config{Name: "t", URL: url, Token: "tok", Events: map[string]bool{"delivered": true, "deferred": true, "bounced": true},
		BatchSize: 2, FlushInterval: 10 * time.Millisecond, MaxSpoolBytes: 1 << 20,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Timeout: 5 * time.Second, Dir: dir}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func event(rcpt string) policy.Event {
	return policy.Event{QueueID: "Q1", Sender: "a@x.test", Recipient: rcpt, Relay: "mx.test[127.0.0.1]:25",
		Attempts: 1, Status: dsn.New(250, "2.0.0", "ok")}
}

// A receiver that fails keeps the events in the spool, across a restart
// of the sink; once it recovers it gets every event, in order, once.
func TestFailThenRecoverAcrossRestart(t *testing.T) {
	rcv := newReceiver(t)
	rcv.failing.Store(true)
	dir := filepath.Join(t.TempDir(), "events", "t")
	s, err := New(testConfig(rcv.URL, dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Delivered(ctx, event("r1@x.test"))
	bounced := event("r2@x.test")
	bounced.Status, bounced.Class = dsn.New(550, "5.1.1", "no such user"), "invalid_recipient"
	s.Bounced(ctx, bounced)
	s.Deferred(ctx, event("r3@x.test"))
	waitFor(t, "two refused POSTs", func() bool { return rcv.refused.Load() >= 2 })
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 2 {
		t.Fatalf("spool after the stop: %v", files)
	}

	rcv.failing.Store(false)
	s2, err := New(testConfig(rcv.URL, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	waitFor(t, "three events", func() bool { return len(rcv.got()) >= 3 })
	waitFor(t, "an empty spool", func() bool { n, _ := s2.spool.usage(); return n == 0 })
	got := rcv.got()
	if len(got) != 3 || got[0].Recipient != "r1@x.test" || got[1].Event != "bounced" || got[2].Event != "deferred" {
		t.Fatalf("received %+v", got)
	}
	if got[1].Class != "invalid_recipient" || got[0].Class != "" {
		t.Errorf("classes %q %q, want none for the delivery and the bounce's", got[0].Class, got[1].Class)
	}
	if got[0].Code != 250 || got[0].Enhanced != "2.0.0" || got[0].QueueID != "Q1" || rcv.authSeen != "Bearer tok" {
		t.Errorf("event %+v, auth %q", got[0], rcv.authSeen)
	}
	if st := s2.Stats(); st.Sent != 3 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
}

// Close writes what is still in memory: no event is lost on an orderly
// stop, even one waiting for its batch to fill.
func TestCloseSpoolsPending(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("http://127.0.0.1:1/", dir)
	cfg.FlushInterval, cfg.BatchSize = time.Hour, 100
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Delivered(context.Background(), event("r1@x.test"))
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("spool after Close: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if countEvents(b) != 1 {
		t.Fatalf("batch %s", b)
	}
}

// The spool stops at MaxSpoolBytes: later events are dropped and
// counted, and the disk use stays under the cap.
func TestSpoolCap(t *testing.T) {
	rcv := newReceiver(t)
	rcv.failing.Store(true)
	cfg := testConfig(rcv.URL, t.TempDir())
	cfg.MaxSpoolBytes, cfg.BatchSize = 1000, 1
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 50; i++ {
		s.Delivered(context.Background(), event("r@x.test"))
	}
	waitFor(t, "dropped events", func() bool { return s.Stats().Dropped > 0 })
	waitFor(t, "all 50 accounted", func() bool { st := s.Stats(); return st.Dropped+int64(st.Batches) == 50 })
	if st := s.Stats(); st.Bytes > cfg.MaxSpoolBytes || st.Batches == 0 {
		t.Fatalf("stats %+v over the cap %d", st, cfg.MaxSpoolBytes)
	}
}

// Only the configured kinds are sent.
func TestEventFilter(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("http://127.0.0.1:1/", dir)
	cfg.Events = map[string]bool{"bounced": true}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Delivered(context.Background(), event("r1@x.test"))
	s.Bounced(context.Background(), event("r2@x.test"))
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("spool: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	var evs []Event
	json.Unmarshal(b, &evs)
	if len(evs) != 1 || evs[0].Event != "bounced" {
		t.Fatalf("batch %s", b)
	}
}
