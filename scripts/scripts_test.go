package scripts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

// TestLua runs the *_test.lua files against the shipped scripts with a
// small configuration.
func TestLua(t *testing.T) {
	aliases, _ := filepath.Abs("testdata/aliases")
	luatest.Run(t, ".", hooks.Config{
		Config: map[string]any{
			"myorigin":      "example.org",
			"myhostname":    "mx.example.org",
			"mydestination": []string{"example.org", "localhost"},
			"relayhost":     "",
			"local":         map[string]any{"aliases": aliases},
		},
		TableDirs: []string{aliases},
	})
}

// TestRelayhost checks the other branch of the transport script.
func TestRelayhost(t *testing.T) {
	eng, err := hooks.New(hooks.Config{Dir: ".", Config: map[string]any{
		"myorigin": "example.org", "mydestination": []string{"example.org"}, "relayhost": "[relay.example]:587",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	r, err := eng.Route(t.Context(), "u@remote.example", nil)
	if err != nil || r.Transport != "smtp" || r.Nexthop != "[relay.example]:587" {
		t.Fatalf("route %+v, %v", r, err)
	}
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
