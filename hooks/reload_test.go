package hooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
)

// versionScript routes every recipient to "v<N>" and checks that its
// selftest sees the same version.
func versionScript(n int) string {
	return fmt.Sprintf(`
local V = %d
mta.on("transport", function(rcpt) return {transport = "smtp", nexthop = "v" .. V} end)
mta.on("cleanup", function(msg) msg:set_header("X-Version", tostring(V)) end)
mta.selftest(function() return V == %d end)
`, n, n)
}

// watchedEngine runs with a generous call timeout: these tests are about
// reload correctness, and a shared CPU under -race can stall a goroutine
// for longer than the production deadline.
func watchedEngine(t *testing.T, src string) (*Engine, string) {
	t.Helper()
	dir := t.TempDir()
	writeScripts(t, dir, map[string]string{"50-route.lua": src})
	e, err := New(Config{Dir: dir, Logger: quietLogger(), Watch: true, Debounce: 20 * time.Millisecond,
		CallTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

// waitFor waits, with a deadline, until cond holds after a reload attempt.
func waitFor(t *testing.T, e *Engine, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ch := e.Reloaded()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			n, _ := e.Generation()
			t.Fatalf("timed out waiting for %s (generation %d, last error %v)", what, n, e.LastError())
		}
	}
}

func (e *Engine) attempts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tries
}

func routeVersion(t *testing.T, e *Engine) string {
	t.Helper()
	r, err := e.Route(ctx(t), "a@b", nil)
	if err != nil {
		t.Fatalf("route: %v", err)
	}
	return r.Nexthop
}

// writeAtomically saves the way editors do: a temp file renamed over.
func writeAtomically(t *testing.T, path, src string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestHotReload(t *testing.T) {
	e, dir := watchedEngine(t, versionScript(1))
	path := filepath.Join(dir, "50-route.lua")
	if v := routeVersion(t, e); v != "v1" {
		t.Fatalf("initial version %s", v)
	}
	steps := []struct {
		name    string
		write   func()
		wantV   string
		wantErr string // "" expects a successful swap
	}{
		{"write in place", func() { writeScripts(t, dir, map[string]string{"50-route.lua": versionScript(2)}) }, "v2", ""},
		{"rename over", func() { writeAtomically(t, path, versionScript(3)) }, "v3", ""},
		{"syntax error", func() { writeAtomically(t, path, "mta.on(") }, "v3", "50-route.lua: syntax error at end of file"},
		{"syntax error mid-file", func() { writeAtomically(t, path, "x = = 1") }, "v3", "50-route.lua:1: syntax error"},
		{"fixed", func() { writeAtomically(t, path, versionScript(4)) }, "v4", ""},
		{"runtime error at load", func() { writeAtomically(t, path, "\nlocal x = nil\nx.y = 1") }, "v4", "50-route.lua:3:"},
		{"failing selftest", func() { writeAtomically(t, path, versionScript(5)+"mta.selftest(function() error('nope') end)") }, "v4", "50-route.lua:6: nope"},
		{"fixed again", func() { writeAtomically(t, path, versionScript(5)) }, "v5", ""},
		{"new file", func() {
			writeScripts(t, dir, map[string]string{"40-first.lua": `mta.on("transport", function() return "smtp:new" end)`})
		}, "new", ""},
		{"file removed", func() { os.Remove(filepath.Join(dir, "40-first.lua")) }, "v5", ""},
	}
	for _, st := range steps {
		before, _ := e.Generation()
		tries := e.attempts()
		st.write()
		if st.wantErr != "" {
			waitFor(t, e, st.name, func() bool { return e.attempts() > tries && e.LastError() != nil })
			wantErrContains(t, e.LastError(), st.wantErr)
			if n, _ := e.Generation(); n != before {
				t.Errorf("%s: generation moved %d → %d", st.name, before, n)
			}
			errs := e.Errors()
			if len(errs) == 0 || !strings.Contains(errs[len(errs)-1], st.wantErr) {
				t.Errorf("%s: Errors() = %q", st.name, errs)
			}
		} else {
			waitFor(t, e, st.name, func() bool { return routeVersion(t, e) == st.wantV && e.LastError() == nil })
		}
		if v := routeVersion(t, e); v != st.wantV {
			t.Errorf("%s: version %s, want %s", st.name, v, st.wantV)
		}
	}
}

func TestReloadUnderLoad(t *testing.T) {
	e, dir := watchedEngine(t, versionScript(1))
	path := filepath.Join(dir, "50-route.lua")
	var stop atomic.Bool
	var calls, failures atomic.Int64
	seen := sync.Map{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for !stop.Load() {
				calls.Add(1)
				if w%2 == 0 {
					r, err := e.Route(ctx(t), "a@b", nil)
					if err != nil || !strings.HasPrefix(r.Nexthop, "v") {
						failures.Add(1)
						t.Errorf("route during reload: %+v, %v", r, err)
						return
					}
					seen.Store(r.Nexthop, true)
					continue
				}
				m := testMessage("x")
				if _, err := e.Cleanup(ctx(t), m); err != nil || m.Header.Get("X-Version") == "" {
					failures.Add(1)
					t.Errorf("cleanup during reload: %v", err)
					return
				}
			}
		}(w)
	}
	// Alternate good and broken scripts; each good one is waited for, so
	// the reloads really happen while the callers run.
	for i := 2; i <= 12; i++ {
		src := versionScript(i)
		if i%2 == 1 {
			src = "mta.on('transport', function() return 'smtp:broken' end)\nerror('broken')"
		}
		n, _ := e.Generation()
		tries := e.attempts()
		writeAtomically(t, path, src)
		if i%2 == 0 {
			waitFor(t, e, fmt.Sprint("version ", i), func() bool { g, _ := e.Generation(); return g > n })
		} else {
			waitFor(t, e, "broken rejected", func() bool { return e.attempts() > tries && e.LastError() != nil })
		}
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d calls failed during reloads", failures.Load(), calls.Load())
	}
	if _, broken := seen.Load("broken"); broken {
		t.Error("a broken generation answered")
	}
	count := 0
	seen.Range(func(any, any) bool { count++; return true })
	t.Logf("%d calls, %d distinct versions answered", calls.Load(), count)
	if count < 2 {
		t.Errorf("only %d versions seen; reloads did not overlap calls", count)
	}
}

func TestExplicitReload(t *testing.T) {
	e := newEngine(t, map[string]string{"50-route.lua": versionScript(1)})
	writeScripts(t, e.cfg.Dir, map[string]string{"50-route.lua": versionScript(2)})
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	n, at := e.Generation()
	if n != 2 || at.IsZero() || routeVersion(t, e) != "v2" {
		t.Errorf("generation %d at %v, version %s", n, at, routeVersion(t, e))
	}
	var _ policy.Router = e
}
