package lookup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "virtual")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a@x one\n")
	now := time.Unix(1000, 0)
	r := NewRegistry(dir, nil)
	r.now = func() time.Time { return now }
	tbl, err := r.Open("file", "virtual")
	if err != nil {
		t.Fatal(err)
	}
	get := func() any { v, _ := tbl.Get("a@x"); return v }

	write("a@x second\n")
	if v := get(); v != "one" {
		t.Errorf("re-read before a second passed: %v", v)
	}
	now = now.Add(2 * time.Second)
	if v := get(); v != "second" {
		t.Errorf("after change: %v", v)
	}
	write("a@x\n") // broken: no value
	now = now.Add(2 * time.Second)
	if v := get(); v != "second" || tbl.Err() == nil {
		t.Errorf("broken reload: %v, err %v", v, tbl.Err())
	}
	if again, _ := r.Open("file", path); again != tbl {
		t.Error("the same file opened twice is not shared")
	}
}

func TestConfinement(t *testing.T) {
	base, other := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(other, "t"), []byte("k v\n"), 0o644)
	os.Symlink(filepath.Join(other, "t"), filepath.Join(base, "link"))
	r := NewRegistry(base, nil)
	if _, err := r.Open("file", "link"); err == nil {
		t.Error("symlink out of the folder accepted")
	}
	r = NewRegistry(base, []string{other})
	if _, err := r.Open("file", filepath.Join(other, "t")); err != nil {
		t.Errorf("configured table folder refused: %v", err)
	}
}

func TestSingleAllowedFile(t *testing.T) {
	base, other := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(other, "aliases"), []byte("root: alice\n"), 0o644)
	os.WriteFile(filepath.Join(other, "secret"), []byte("k v\n"), 0o644)
	r := NewRegistry(base, []string{filepath.Join(other, "aliases")})
	if _, err := r.Open("aliases", filepath.Join(other, "aliases")); err != nil {
		t.Errorf("allowed file refused: %v", err)
	}
	if _, err := r.Open("file", filepath.Join(other, "secret")); err == nil {
		t.Error("a file next to the allowed one was accepted")
	}
}
