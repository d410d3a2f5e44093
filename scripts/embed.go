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

// FS is the shipped scripts (and their tests) as a file system, for
// hooks.Config.FS: the daemon loads its default policy straight from the
// binary and writes nothing for it.
func FS() fs.FS { return files }

// Export writes the shipped scripts into dir, creating it, for an
// operator who wants to edit them (and then sets hooks.dir to dir). A
// script that is already there is an error unless overwrite is set;
// nothing else in dir is touched. Each file is written to a temporary
// name and renamed, so a watching daemon never sees half a script.
// It returns the paths written.
func Export(dir string, overwrite bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("scripts: %w", err)
	}
	names := Names()
	if !overwrite {
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				return nil, fmt.Errorf("scripts: %s already exists", filepath.Join(dir, n))
			}
		}
	}
	var out []string
	for _, n := range names {
		src, err := Source(n)
		if err != nil {
			return out, err
		}
		dst := filepath.Join(dir, n)
		tmp := filepath.Join(dir, "."+n+".tmp")
		if err := os.WriteFile(tmp, src, 0o644); err != nil {
			os.Remove(tmp)
			return out, fmt.Errorf("scripts: %w", err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return out, fmt.Errorf("scripts: %w", err)
		}
		out = append(out, dst)
	}
	return out, nil
}
