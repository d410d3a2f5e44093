package auth

import (
	"context"
	"crypto"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeyringExactAndWildcard(t *testing.T) {
	dir := t.TempDir()
	exact := filepath.Join(dir, "example.com.s1.pem")
	writeKey(t, exact, "ed25519")
	writeKey(t, filepath.Join(dir, "keys", "hosted.example", "s2.pem"), "ed25519")
	k, err := NewKeyring([]KeySpec{
		{Domain: "example.com", Selector: "s1", Key: exact},
		{Domain: "*", Selector: "s2", KeyDir: filepath.Join(dir, "keys")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := k.Keys("Example.COM", "")
	if err != nil || len(keys) != 1 || keys[0].Selector != "s1" || keys[0].Domain != "example.com" {
		t.Fatalf("exact: %v %v", keys, err)
	}
	keys, err = k.Keys("hosted.example", "")
	if err != nil || len(keys) != 1 || keys[0].Selector != "s2" {
		t.Fatalf("wildcard: %v %v", keys, err)
	}
	for _, d := range []string{"other.example", "../keys", "a/b", "", "x..y"} {
		if keys, err := k.Keys(d, ""); err != nil || len(keys) != 0 {
			t.Errorf("%q: %v %v", d, keys, err)
		}
	}
}

func TestKeyringBadKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("nonsense"), 0o600)
	_, err := NewKeyring([]KeySpec{{Domain: "example.com", Selector: "s1", Key: bad},
		{Domain: "example.org", Selector: "s1", Key: filepath.Join(dir, "missing.pem")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "example.com") || !strings.Contains(err.Error(), "example.org") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyringReloadKeepsPreviousKeyOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.pem")
	writeKey(t, path, "ed25519")
	k, err := NewKeyring([]KeySpec{{Domain: "example.com", Selector: "s1", Key: path}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k.now = func() time.Time { return now }
	first := mustKey(t, k)

	now = now.Add(2 * recheck)
	os.WriteFile(path, []byte("broken key"), 0o600)
	if got := mustKey(t, k); !got.Equal(first) {
		t.Fatal("a broken key file replaced the working key")
	}

	now = now.Add(2 * recheck)
	writeKey(t, path, "ed25519")
	os.Chtimes(path, now.Add(time.Hour), now.Add(time.Hour)) // a new mtime even on coarse clocks
	if got := mustKey(t, k); got.Equal(first) {
		t.Fatal("a changed key file was not reloaded")
	}
}

type equaler interface{ Equal(crypto.PublicKey) bool }

func mustKey(t *testing.T, k *Keyring) equaler {
	t.Helper()
	keys, err := k.Keys("example.com", "s1")
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	return keys[0].Signer.Public().(equaler)
}

// logSink collects log messages for tests.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r.Message)
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }
func (s *logSink) has(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

func TestKeyringWatchReportsABrokenKeyAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.pem")
	writeKey(t, path, "ed25519")
	sink := &logSink{}
	k, err := NewKeyring([]KeySpec{{Domain: "example.com", Selector: "s1", Key: path}}, slog.New(sink))
	if err != nil {
		t.Fatal(err)
	}
	first := mustKey(t, k)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// The watch may not be in place yet: rewrite (after a quiet second,
	// longer than the debounce) until it reports.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !sink.has("does not load"); i++ {
		if time.Now().After(deadline) {
			t.Fatal("a broken key file was never reported")
		}
		if i%20 == 0 {
			os.WriteFile(path, []byte("broken "+time.Now().String()), 0o600)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := mustKey(t, k); !got.Equal(first) {
		t.Fatal("the broken file replaced the key")
	}
	if bad := k.Refresh(); bad != 1 {
		t.Fatalf("Refresh counts %d bad files", bad)
	}
}
