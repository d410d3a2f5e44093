package aliases

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moonpost/moonpost/core/policy"
)

// AliasFile is an aliases(5) file kept in memory and reloaded when it
// changes on disk. It implements policy.Aliases and is safe for
// concurrent use.
type AliasFile struct {
	path string
	// Logger receives reload warnings and failures; set it before the
	// first lookup (nil → slog.Default()).
	Logger *slog.Logger

	reloadMu sync.Mutex // one reload at a time
	mu       sync.RWMutex
	table    map[string][]string
	// seen identifies the file version last read, loaded or not, so a
	// broken file is parsed once per change, not once per lookup.
	seen stamp
}

// stamp identifies a version of a file cheaply.
type stamp struct {
	mtime time.Time
	size  int64
	ino   uint64
}

// LoadAliasFile reads and parses path. A syntax error is returned with
// the file name and line.
func LoadAliasFile(path string) (*AliasFile, error) {
	f := &AliasFile{path: path}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path is the file the aliases come from.
func (f *AliasFile) Path() string { return f.path }

// Reload reads the file now. On error the table in service is kept.
func (f *AliasFile) Reload() error {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	return f.reload()
}

func (f *AliasFile) reload() error {
	fh, err := os.Open(f.path)
	var st stamp
	if err == nil {
		defer fh.Close()
		st, err = statOf(fh.Stat())
	}
	// Remember this version even if it fails below (a missing file is
	// the zero stamp), so it is not retried until it changes.
	f.mu.Lock()
	f.seen = st
	f.mu.Unlock()
	if err != nil {
		return err
	}
	t, err := Parse(fh, f.path)
	if err != nil {
		return err
	}
	for _, w := range t.Warnings {
		f.logger().Warn("alias file", "warning", w)
	}
	f.mu.Lock()
	f.table = t.Entries
	f.mu.Unlock()
	return nil
}

// ExpandAlias looks local up, ignoring case. The domain is not part of
// the key: aliases(5) names are local parts of every local domain.
func (f *AliasFile) ExpandAlias(ctx context.Context, local, domain string) ([]string, bool, error) {
	f.reloadIfChanged()
	f.mu.RLock()
	targets, ok := f.table[strings.ToLower(local)]
	f.mu.RUnlock()
	return slices.Clone(targets), ok, nil
}

// reloadIfChanged stats the file and reloads it when it is a different
// version from the one last read. Failures are logged and the old table
// stays: refusing every local recipient over a typo would be worse.
func (f *AliasFile) reloadIfChanged() {
	st, _ := statOf(os.Stat(f.path)) // zero stamp when missing
	f.mu.RLock()
	same := st == f.seen
	f.mu.RUnlock()
	if same {
		return
	}
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	f.mu.RLock()
	same = st == f.seen // another lookup may have reloaded
	f.mu.RUnlock()
	if same {
		return
	}
	if err := f.reload(); err != nil {
		f.logger().Error("alias file reload failed; keeping the previous table", "path", f.path, "err", err)
		return
	}
	f.logger().Info("alias file reloaded", "path", f.path)
}

func statOf(fi os.FileInfo, err error) (stamp, error) {
	if err != nil {
		return stamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return stamp{}, fmt.Errorf("%s: not a regular file", fi.Name())
	}
	s := stamp{mtime: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = sys.Ino
	}
	return s, nil
}

func (f *AliasFile) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.Default()
	}
	return f.Logger
}

var _ policy.Aliases = (*AliasFile)(nil)
