package auth

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is the quiet time after a burst of changes (an editor's save,
// a key rotation script) before the keys are read again.
const debounce = 200 * time.Millisecond

// Refresh reads again, now, every key file the keyring knows whose size or
// modification time changed; a file that no longer loads is logged and
// its previous key stays. It returns the number of files that are bad
// (including those whose previous key is still in force).
func (k *Keyring) Refresh() int {
	k.mu.Lock()
	paths := make([]string, 0, len(k.files))
	for p, f := range k.files {
		f.checked = time.Time{} // force the stat
		paths = append(paths, p)
	}
	k.mu.Unlock()
	bad := 0
	for _, p := range paths {
		k.load(p, true)
		k.mu.Lock()
		if k.files[p].err != nil {
			bad++
		}
		k.mu.Unlock()
	}
	return bad
}

// Watch refreshes the keys when a file in one of their folders changes,
// until ctx ends: a rotated or broken key is picked up (and a broken one
// reported) at once, not at the next message. Folders are watched, not
// files, since tools replace a file by renaming a new one over it. A
// folder that cannot be watched leaves its keys to the check on use.
func (k *Keyring) Watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		k.log.Warn("dkim: cannot watch key files; changes are seen on use", "err", err)
		return
	}
	defer w.Close()
	watched := 0
	for _, d := range k.dirs() {
		if err := w.Add(d); err == nil {
			watched++
		}
	}
	if watched == 0 {
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			timer.Reset(debounce)
		case _, ok := <-w.Errors:
			if !ok {
				return
			}
		case <-timer.C:
			k.Refresh()
		}
	}
}

// dirs are the folders holding the table's keys: each key's folder, and
// each wildcard key_dir's domain folders.
func (k *Keyring) dirs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, e := range k.entries {
		if e.Domain != "*" {
			add(filepath.Dir(e.Key))
			continue
		}
		ents, _ := os.ReadDir(e.KeyDir)
		for _, de := range ents {
			if de.IsDir() {
				add(filepath.Join(e.KeyDir, de.Name()))
			}
		}
	}
	return out
}
