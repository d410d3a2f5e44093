package scripts

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// files are the shipped scripts and their tests.
//
//go:embed *.lua
var files embed.FS

// Names lists the shipped policy scripts (not the tests), in load order.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		if isScript(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Source returns one shipped script.
func Source(name string) ([]byte, error) { return files.ReadFile(name) }

func isScript(name string) bool {
	return strings.HasSuffix(name, ".lua") && !strings.HasSuffix(name, "_test.lua")
}

// Install writes the shipped scripts into dir, creating it, and removes
// other *.lua files there, so dir holds exactly this binary's policy.
// Each file is written to a temporary name and renamed, so a reader
// never sees half a script.
func Install(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scripts: %w", err)
	}
	want := map[string]bool{}
	for _, n := range Names() {
		want[n] = true
		src, err := Source(n)
		if err != nil {
			return err
		}
		tmp := filepath.Join(dir, "."+n+".tmp")
		if err := os.WriteFile(tmp, src, 0o644); err != nil {
			return fmt.Errorf("scripts: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("scripts: %w", err)
		}
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.lua"))
	for _, p := range old {
		if !want[filepath.Base(p)] {
			os.Remove(p)
		}
	}
	return nil
}
