package hooks

import (
	"strings"
	"testing"
)

func TestStandaloneState(t *testing.T) {
	L := NewStandaloneState(Config{Config: map[string]any{"myhostname": "mx.test"}})
	defer L.Close()
	if err := L.DoString(`
		assert(require("json").encode({1}) == "[1]")
		assert(require("config").myhostname == "mx.test")
		assert(io == nil and dofile == nil and os.execute == nil)
		assert(hooks.generation() == 0 and #hooks.errors() == 0)
	`); err != nil {
		t.Fatal(err)
	}
	if err := L.DoString(`hooks.call("transport", "a@b.test")`); err == nil || !strings.Contains(err.Error(), ErrNoScripts) {
		t.Fatalf("hooks.call without scripts: %v", err)
	}
	if err := L.DoString(`require("lookup").file("doc.go")`); err == nil {
		t.Fatal("a file of the working directory was readable as a lookup table")
	}
}
