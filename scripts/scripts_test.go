package scripts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

// TestLua runs the *_test.lua files against the shipped scripts with a
// small configuration.
func TestLua(t *testing.T) {
	aliases, _ := filepath.Abs("testdata/aliases")
	users, _ := filepath.Abs("testdata/users")
	luatest.Run(t, ".", hooks.Config{
		Config: map[string]any{
			"myorigin":      "example.org",
			"myhostname":    "mx.example.org",
			"mydestination": []string{"example.org", "localhost"},
			"relayhost":     "",
			"local":         map[string]any{"aliases": aliases},

			"local_recipient_maps": []string{"passwd", "aliases", users},
		},
		TableDirs: []string{aliases, users},
	})
}

// TestExport writes the shipped scripts out for editing: they load from
// the folder, nothing else there is touched, and an existing script is
// not overwritten without asking.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "99-mine.lua")
	if err := writeFile(other); err != nil {
		t.Fatal(err)
	}
	got, err := Export(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(Names()) || len(got) == 0 {
		t.Errorf("exported %v, want %v", got, Names())
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("export removed a script of the operator's: %v", err)
	}
	eng, err := hooks.New(hooks.Config{Dir: dir, Config: map[string]any{"myorigin": "x.example"}})
	if err != nil {
		t.Fatalf("exported scripts do not load: %v", err)
	}
	eng.Close()
	if _, err := Export(dir, false); err == nil {
		t.Error("a second export overwrote the scripts without being asked")
	}
	if _, err := Export(dir, true); err != nil {
		t.Errorf("export with overwrite: %v", err)
	}
}

// TestLoadEmbedded loads the default policy straight from the binary,
// as the daemon does without hooks.dir: no folder, nothing written.
func TestLoadEmbedded(t *testing.T) {
	eng, err := hooks.New(hooks.Config{FS: FS(), Config: map[string]any{
		"myorigin": "example.org", "mydestination": []string{"example.org"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// The shipped scripts leave routing to the Go default (resolve.Static);
	// their alias handler answers from the embedded copy.
	if r, err := eng.Route(t.Context(), "u@example.org", nil); err != nil || r.Transport != "" {
		t.Fatalf("route %+v, %v: the shipped scripts should not decide it", r, err)
	}
	if err := eng.Reload(); err != nil {
		t.Fatalf("reloading the embedded scripts: %v", err)
	}
	if n, _ := eng.Generation(); n != 2 {
		t.Errorf("generation %d after a reload, want 2", n)
	}
}

func writeFile(p string) error { return os.WriteFile(p, []byte("-- stale\n"), 0o644) }

// TestRecipientCheck covers the configurations the Lua tests do not:
// local_recipient_maps = [] turns the check off, and without the key
// (an engine built outside the daemon) passwd and aliases apply.
func TestRecipientCheck(t *testing.T) {
	for _, c := range []struct {
		maps   any
		reject bool
	}{{[]string{}, false}, {nil, true}, {[]string{"passwd"}, true}} {
		cfg := map[string]any{"mydestination": []string{"example.org"}}
		if c.maps != nil {
			cfg["local_recipient_maps"] = c.maps
		}
		eng, err := hooks.New(hooks.Config{Dir: ".", Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		st, err := eng.Rcpt(t.Context(), &policy.Session{ID: "s"}, "v1%example.net@example.org")
		if err != nil || (st != nil) != c.reject || (st != nil && st.Error() != "550 5.1.1 <v1%example.net@example.org>: Recipient address rejected: User unknown in local recipient table") {
			t.Errorf("maps %v: %v, %v (want reject %v)", c.maps, st, err, c.reject)
		}
		if st, err := eng.Rcpt(t.Context(), &policy.Session{ID: "s"}, "root@example.org"); st != nil || err != nil {
			t.Errorf("maps %v: root refused: %v, %v", c.maps, st, err)
		}
		eng.Close()
	}
}
