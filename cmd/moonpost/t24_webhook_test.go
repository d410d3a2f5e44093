package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Scenario 24: a [[webhook]] receiver that fails keeps the delivery
// events in SPOOL/events/, through a SIGKILL of the daemon; once it
// recovers, the restarted daemon sends them, and each event arrives once.
func TestT24WebhookSurvivesRestart(t *testing.T) {
	var failing atomic.Bool
	var refused atomic.Int64
	var mu sync.Mutex
	var got []map[string]any
	failing.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if failing.Load() {
			refused.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var evs []map[string]any
		if err := json.Unmarshal(body, &evs); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, evs...)
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() []map[string]any { mu.Lock(); defer mu.Unlock(); return append([]map[string]any(nil), got...) }

	d := newDaemon(t, fmt.Sprintf(`
[[webhook]]
url = %q
flush_interval = "50ms"
min_backoff = "100ms"
max_backoff = "200ms"
`, srv.URL+"/events"))
	d.start()
	if code, out := d.run("Subject: t24\n\nhello\n", "sendmail", "-f", "alice@local.test", "bob@local.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	d.WaitMaildir("spool/mail/bob", 1)
	eventually(t, "a refused POST", func() bool { return refused.Load() >= 1 })
	d.kill()
	files, _ := filepath.Glob(filepath.Join(d.dir, "spool", "events", "webhook", "*.json"))
	if len(files) != 1 {
		t.Fatalf("spooled batches after the kill: %v\n%s", files, d.logs())
	}
	if n := len(received()); n != 0 {
		t.Fatalf("%d events taken while the receiver failed", n)
	}

	failing.Store(false)
	d.start()
	eventually(t, "the event after the restart", func() bool { return len(received()) >= 1 })
	d.waitLog("webhook: batches waiting from an earlier run", 1)
	eventually(t, "an empty event spool", func() bool {
		f, _ := filepath.Glob(filepath.Join(d.dir, "spool", "events", "webhook", "*.json"))
		return len(f) == 0
	})
	evs := received()
	if len(evs) != 1 || evs[0]["event"] != "delivered" || evs[0]["recipient"] != "bob@local.test" ||
		evs[0]["sender"] != "alice@local.test" || evs[0]["queue_id"] == "" {
		t.Fatalf("events %v", evs)
	}
}
