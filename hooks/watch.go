package hooks

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch starts the goroutine that reloads on changes in the scripts
// folder. The folder is watched, not the files: editors save by writing
// a temporary file and renaming it over the old one, which a watch on
// the file itself would lose.
func (e *Engine) watch() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("hooks: watch: %w", err)
	}
	if err := w.Add(e.cfg.Dir); err != nil {
		w.Close()
		return fmt.Errorf("hooks: watch %s: %w", e.cfg.Dir, err)
	}
	e.wg.Add(1)
	go e.watchLoop(w)
	return nil
}

// watchLoop debounces bursts of events (an editor's save is several) into
// one reload, run after Debounce of quiet.
func (e *Engine) watchLoop(w *fsnotify.Watcher) {
	defer e.wg.Done()
	defer w.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-e.stop:
			timer.Stop()
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if relevant(ev.Name) {
				timer.Reset(e.cfg.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			e.log.Warn("watching scripts", "error", err)
		case <-timer.C:
			_ = e.Reload() // logged and kept by Reload
		}
	}
}

// relevant ignores editor droppings and test files; a change to any
// other .lua name (or its removal) triggers a reload.
func relevant(path string) bool {
	name := filepath.Base(path)
	return strings.HasSuffix(name, ".lua") && !strings.HasPrefix(name, ".") &&
		!strings.HasSuffix(name, "_test.lua")
}
