package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// An event carries the message's tenant as "tenant", and leaves the key
// out when there is none.
func TestEventCarriesTenant(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("http://127.0.0.1:1/", dir)
	cfg.BatchSize = 10
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := event("r1@x.test")
	ev.Tenant = "acme"
	s.Delivered(context.Background(), ev)
	s.Delivered(context.Background(), event("r2@x.test"))
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("spool: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	var raw []map[string]any
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		t.Fatalf("batch %s: %v", b, err)
	}
	if raw[0]["tenant"] != "acme" {
		t.Errorf("first event: tenant %v in %s", raw[0]["tenant"], b)
	}
	if _, ok := raw[1]["tenant"]; ok || bytes.Count(b, []byte(`"tenant"`)) != 1 {
		t.Errorf("an event without a tenant names one: %s", b)
	}
}
