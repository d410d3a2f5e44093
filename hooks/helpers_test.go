package hooks

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// quietLogger keeps test output readable; set HOOKS_LOG=1 to see records.
func quietLogger() *slog.Logger {
	if os.Getenv("HOOKS_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// writeScripts writes name → source files into dir.
func writeScripts(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newEngine loads files from a fresh folder; tweak may change the config.
func newEngine(t testing.TB, files map[string]string, tweak ...func(*Config)) *Engine {
	t.Helper()
	dir := t.TempDir()
	writeScripts(t, dir, files)
	cfg := Config{Dir: dir, Logger: quietLogger()}
	for _, f := range tweak {
		f(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// loadErr returns the error New gives for files.
func loadErr(t *testing.T, files map[string]string) error {
	t.Helper()
	dir := t.TempDir()
	writeScripts(t, dir, files)
	e, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err == nil {
		e.Close()
		t.Fatalf("scripts loaded; want an error")
	}
	return err
}

func ctx(t testing.TB) context.Context {
	if _, bench := t.(*testing.B); bench {
		// A benchmark may run longer than any fixed bound.
		return context.Background()
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
