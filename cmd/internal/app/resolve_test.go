package app

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/moonpost/moonpost/core/config"
)

// TestDefaultRouteHonoursMydestination: an operator folder without a
// transport handler still delivers mydestination locally and sends the
// rest to relayhost, through the daemon's own resolver.
func TestDefaultRouteHonoursMydestination(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10-rcpt.lua"), []byte(`mta.on("rcpt", function() end)`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Destinations: []string{"example.org"}, RelayHost: "[smarthost.example]:587"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := newEngine(cfg, dir, false, newResolver(cfg, log), log)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	res := routeResolver(cfg, eng)
	for rcpt, want := range map[string]string{
		"alice@Example.ORG": "local:example.org",
		"alice":             "local:",
		"bob@remote.test":   "smtp:[smarthost.example]:587",
	} {
		d, err := res.Resolve(t.Context(), rcpt, nil)
		if err != nil || d.Key() != want {
			t.Errorf("%s -> %s, %v; want %s", rcpt, d.Key(), err, want)
		}
	}
}
