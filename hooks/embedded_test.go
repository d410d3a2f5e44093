package hooks

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// TestScriptsFromFS: scripts read from an fs.FS (the embedded default)
// follow the folder's rules: file-name order, *_test.lua and dot-files
// skipped, errors with file and line; they cannot be watched, and a
// relative table path does not open the working directory.
func TestScriptsFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"20-b.lua":      {Data: []byte(`mta.on("alias", function(l) if l == "b" then return {"from-b"} end end)`)},
		"10-a.lua":      {Data: []byte(`mta.on("alias", function(l) return {"from-a"} end)`)},
		"a_test.lua":    {Data: []byte(`error("tests are not loaded")`)},
		".swap.lua":     {Data: []byte(`error("dot-files are not loaded")`)},
		"notes.txt":     {Data: []byte(`not lua`)},
		"sub/inner.lua": {Data: []byte(`error("only the top is loaded")`)},
	}
	e, err := New(Config{FS: fsys, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, _, err := e.ExpandAlias(t.Context(), "b", "example.org")
	if err != nil || len(got) != 1 || got[0] != "from-a" {
		t.Errorf("alias = %v, %v; want the handler of 10-a.lua first", got, err)
	}

	fsys["30-bad.lua"] = &fstest.MapFile{Data: []byte("mta.on(\"alias\", function(l)\n")}
	if err := e.Reload(); err == nil || !strings.Contains(err.Error(), "30-bad.lua:") {
		t.Errorf("reload of a broken script: %v", err)
	}
	if n, _ := e.Generation(); n != 1 {
		t.Errorf("generation %d after a failed reload, want 1", n)
	}

	if _, err := New(Config{FS: fsys, Watch: true, Logger: quietLogger()}); err == nil {
		t.Error("an FS was accepted for watching")
	}

	t.Chdir(t.TempDir())
	os.WriteFile("zz-cwd-table", []byte("k v\n"), 0o600)
	delete(fsys, "30-bad.lua")
	fsys["40-table.lua"] = &fstest.MapFile{Data: []byte(`local ok = pcall(require("lookup").file, "zz-cwd-table")
assert(not ok, "a relative table opened the working directory")`)}
	if err := e.Reload(); err != nil {
		t.Error(err)
	}
}
