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

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "99-old.lua")
	if err := writeFile(stale); err != nil {
		t.Fatal(err)
	}
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(dir, "*.lua"))
	if len(got) != len(Names()) || len(got) == 0 {
		t.Errorf("installed %v, want %v", got, Names())
	}
	eng, err := hooks.New(hooks.Config{Dir: dir, Config: map[string]any{"myorigin": "x.example"}})
	if err != nil {
		t.Fatalf("installed scripts do not load: %v", err)
	}
	eng.Close()
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
