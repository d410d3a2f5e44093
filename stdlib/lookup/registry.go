package lookup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

// checkEvery bounds how often a table's file is stat'ed.
const checkEvery = time.Second

// maxFileSize refuses absurd table files.
const maxFileSize = 64 << 20

// Registry holds the loaded tables of a process and the folders they may
// come from. It is shared by every Lua state of an engine.
type Registry struct {
	base string   // folder relative paths start from (the scripts folder)
	dirs []string // allowed folders, symlinks resolved
	// files are single allowed files (the daemon's aliases file, say),
	// so allowing one file does not open its whole folder to scripts.
	files map[string]bool
	now   func() time.Time
	mu    sync.Mutex
	byKey map[string]*Table // kind + "\x00" + path

	// Backends of lookup.redis and lookup.sql (remote.go); nil when
	// not configured.
	redis  goredis.UniversalClient
	sql    *stdsql.DBs
	remote map[string]*Remote // by kind and options
}

// NewRegistry allows tables under base and under every folder in extra;
// an entry of extra that is a regular file allows just that file.
func NewRegistry(base string, extra []string) *Registry {
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	r := &Registry{base: base, now: time.Now, byKey: map[string]*Table{}, files: map[string]bool{}}
	for _, d := range append([]string{base}, extra...) {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				abs = real
			}
			if fi, err := os.Stat(abs); err == nil && fi.Mode().IsRegular() {
				r.files[abs] = true
				continue
			}
			r.dirs = append(r.dirs, abs)
		}
	}
	return r
}

// Open returns the shared table of kind for path, loading it on first use.
func (r *Registry) Open(kind, path string) (*Table, error) {
	abs, err := r.resolve(path)
	if err != nil {
		return nil, err
	}
	key := kind + "\x00" + abs
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.byKey[key]; ok {
		return t, nil
	}
	t := &Table{kind: kind, path: abs, now: r.now}
	if err := t.load(); err != nil {
		return nil, err
	}
	r.byKey[key] = t
	return t, nil
}

// resolve makes path absolute and checks that it lies in an allowed
// folder once symlinks are followed.
func (r *Registry) resolve(path string) (string, error) {
	if path == "" || strings.ContainsRune(path, 0) {
		return "", errors.New("lookup: empty path")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.base, path)
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return "", fmt.Errorf("lookup: %s: no such table", path)
	}
	if r.files[real] {
		return real, nil
	}
	for _, d := range r.dirs {
		if rel, err := filepath.Rel(d, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && rel != "." {
			return real, nil
		}
	}
	return "", fmt.Errorf("lookup: %s: outside the allowed table folders", path)
}

// Table is one loaded table file.
type Table struct {
	kind string
	path string
	now  func() time.Time

	mu      sync.RWMutex
	data    matcher   // current contents
	mtime   time.Time // of the file data was read from
	size    int64
	checked time.Time // last stat
	lastErr error     // last failed reload, nil when current
}

// matcher answers one kind of table.
type matcher interface {
	lookup(key string) (any, bool) // string or []string
}

func (t *Table) load() error {
	fi, err := os.Stat(t.path)
	if err != nil {
		return fmt.Errorf("lookup: %w", err)
	}
	if fi.Size() > maxFileSize {
		return fmt.Errorf("lookup: %s: file too large", t.path)
	}
	raw, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("lookup: %w", err)
	}
	m, err := parse(t.kind, t.path, string(raw))
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.data, t.mtime, t.size, t.checked, t.lastErr = m, fi.ModTime(), fi.Size(), t.now(), nil
	t.mu.Unlock()
	return nil
}

// Get looks key up, first re-reading the file when it changed.
func (t *Table) Get(key string) (any, bool) {
	t.refresh()
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.data.lookup(key)
}

// Err reports the last failed reload, if the table serves old contents.
func (t *Table) Err() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lastErr
}

func (t *Table) refresh() {
	if t.path == "" { // not read from a file (passwd)
		return
	}
	t.mu.Lock()
	if t.now().Sub(t.checked) < checkEvery {
		t.mu.Unlock()
		return
	}
	t.checked = t.now()
	fi, err := os.Stat(t.path)
	changed := err == nil && (!fi.ModTime().Equal(t.mtime) || fi.Size() != t.size)
	t.mu.Unlock()
	if !changed {
		return
	}
	if err := t.load(); err != nil {
		t.mu.Lock()
		t.lastErr = err
		t.mu.Unlock()
	}
}

func parse(kind, path, text string) (matcher, error) {
	switch kind {
	case "file":
		return parseFile(path, text)
	case "aliases":
		return parseAliases(path, text)
	case "regexp":
		return parseRegexp(path, text)
	case "cidr":
		return parseCIDR(path, text)
	}
	return nil, fmt.Errorf("lookup: unknown table kind %q", kind)
}
