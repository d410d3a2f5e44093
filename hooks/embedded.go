package hooks

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// noTables is the lookup base of an engine whose scripts come from
// Config.FS alone: not the working directory, so a relative table path
// opens nothing unless a folder of TableDirs allows it.
const noTables = "/nonexistent/moonpost-no-tables"

// compile compiles the scripts of a new generation: from Config.FS when
// set (the default policy embedded in the binary, read in place so that
// starting writes nothing to disk), else from the folder Config.Dir.
func (e *Engine) compile() ([]script, error) {
	if e.cfg.FS == nil {
		return compileDir(e.cfg.Dir)
	}
	return compileFS(e.cfg.FS)
}

// compileFS parses and compiles every script at the top of fsys, in
// file-name order, with the same name rules as compileDir.
func compileFS(fsys fs.FS) ([]script, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	var names []string
	for _, ent := range entries {
		n := ent.Name()
		if ent.Type().IsRegular() && strings.HasSuffix(n, ".lua") && !strings.HasSuffix(n, "_test.lua") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	scripts := make([]script, 0, len(names))
	for _, n := range names {
		src, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("hooks: %w", err)
		}
		proto, err := Compile(bytes.NewReader(src), n)
		if err != nil {
			return nil, err
		}
		scripts = append(scripts, script{name: n, proto: proto})
	}
	return scripts, nil
}
