package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

func scrape(t *testing.T, src *Sources) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestScrapeReadsTheEngineCounters(t *testing.T) {
	st, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := time.Now().Add(-time.Hour)
	for _, at := range []time.Time{old, time.Now()} {
		env := &queue.Envelope{ID: queue.NewID(at), Sender: "a@x.test", Recipients: []queue.Recipient{{Addr: "b@y.test"}}}
		w, err := st.Create(queue.Deferred, env, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	src := &Sources{
		Qmgr: func() qmgr.Stats {
			return qmgr.Stats{Expired: 2, InFlight: 3, Held: 6, ByTransport: map[string]qmgr.Outcomes{"smtp": {Delivered: 7, Deferred: 1}, "local": {Bounced: 4}}}
		},
		Received:   func() map[string]int64 { return map[string]int64{"smtp": 11, "local": 1} },
		Store:      st,
		Generation: func() (int, bool) { return 5, true },
		Started:    time.Unix(1700000000, 0),
	}
	text := scrape(t, src)
	for _, want := range []string{
		`moonpost_deliveries_total{status="sent",transport="smtp"} 7`,
		`moonpost_deliveries_total{status="bounced",transport="local"} 4`,
		`moonpost_messages_received_total{origin="smtp"} 11`,
		`moonpost_messages_expired_total 2`,
		`moonpost_deliveries_in_flight 3`,
		`moonpost_egress_held_total 6`,
		`moonpost_queue_messages{queue="deferred"} 2`,
		`moonpost_queue_messages{queue="incoming"} 0`,
		`moonpost_scripts_generation 5`,
		`moonpost_scripts_last_reload_failed 1`,
		`moonpost_start_time_seconds 1.7e+09`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	age := lineValue(t, text, `moonpost_queue_oldest_message_age_seconds{queue="deferred"}`)
	if age < 3500 || age > 3700 {
		t.Errorf("oldest deferred age %v, want about 3600", age)
	}
}

// The queue directories are listed at most once per QueueTTL.
func TestQueueListingIsCached(t *testing.T) {
	st, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	src := &Sources{Store: st, QueueTTL: time.Minute, Now: func() time.Time { return now }}
	h := Handler(src)
	get := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	if !strings.Contains(get(), `moonpost_queue_messages{queue="hold"} 0`) {
		t.Fatal("no hold figure")
	}
	env := &queue.Envelope{Sender: "a@x.test", Recipients: []queue.Recipient{{Addr: "b@y.test"}}}
	w, _ := st.Create(queue.Hold, env, 0)
	w.Write([]byte("x\r\n"))
	w.Commit()
	if !strings.Contains(get(), `moonpost_queue_messages{queue="hold"} 0`) {
		t.Error("listed again within the TTL")
	}
	now = now.Add(2 * time.Minute)
	if !strings.Contains(get(), `moonpost_queue_messages{queue="hold"} 1`) {
		t.Error("not listed again after the TTL")
	}
}

func lineValue(t *testing.T, text, prefix string) float64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return v
		}
	}
	t.Fatalf("no %s", prefix)
	return 0
}
