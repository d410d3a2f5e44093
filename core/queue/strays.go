package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Strays are directory entries in a queue directory that are not
// committed queue files: something under a queue-ID name that is not a
// regular file (a symlink, FIFO, device, socket or directory, planted or
// left by hand), or a name that is not a queue ID at all.
//
// Nothing in the spool ever follows or opens one: listings skip them
// (going by the directory entry's type, no stat) and Read opens with
// O_NOFOLLOW. Without more, a stray under an ID name would stay where it
// is and be met again at every scan, forever. So the daemon, which owns
// the spool, calls SweepStrays: from then on its listings and recovery
// move every such entry to corrupt/ (renaming the entry itself, never
// what it points to) with one log line, and log a name that is not an ID
// once per process. Other programs that open the spool (the admin
// commands) only skip them.
type strays struct {
	mu     sync.Mutex
	logged map[string]bool // "state/name" already reported
	capped bool            // the note that logged is full was given
}

// maxLoggedStrays bounds the memory of names reported; past it, new
// names are no longer logged (one line says so).
const maxLoggedStrays = 10000

// SweepStrays makes this store move strays out of the queues it lists
// (see strays). Call it once, before Recover, in the daemon only.
func (s *Store) SweepStrays() { s.strays = &strays{logged: map[string]bool{}} }

// swept reports the states whose strays are moved: the queues mail
// waits in. corrupt/ is where they go, so never.
func swept(st State) bool { return st != Corrupt }

// stray deals with one entry that is not a committed queue file.
func (s *Store) stray(st State, de os.DirEntry) {
	name := de.Name()
	if s.strays == nil || !swept(st) || isTemp(name) {
		return
	}
	if !Valid(name) {
		s.logOnce(st, name, "queue: unexpected name in a queue directory, left alone", "type", typeName(de.Type()))
		return
	}
	to, err := s.moveToCorrupt(st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return // gone since the listing
	}
	if err != nil {
		s.logOnce(st, name, "queue: cannot move a queue entry that is not a regular file to corrupt/; left alone",
			"type", typeName(de.Type()), "err", err)
		return
	}
	s.log.Error("queue: not a regular file, moved to corrupt/ unopened", "queue_id", name, "state", st,
		"type", typeName(de.Type()), "moved_to", to)
}

// isTemp tells an uncommitted temp file (".ID.tmp"): recovery deals with
// those, and in maildrop/ sendmail may be writing one.
func isTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") }

// moveToCorrupt renames entry name of st into corrupt/, under its own
// name or, if that is taken, name.1 … name.9: nothing moved there may
// replace what corrupt/ already keeps. It returns the new path relative
// to the spool.
func (s *Store) moveToCorrupt(st State, name string) (string, error) {
	from := filepath.Join(s.root, string(st), name)
	var err error
	for i := 0; i < 10; i++ {
		to := name
		if i > 0 {
			to = fmt.Sprintf("%s.%d", name, i)
		}
		path := filepath.Join(s.root, string(Corrupt), to)
		if err = renameNoReplace(from, path); !errors.Is(err, fs.ErrExist) {
			return filepath.Join(string(Corrupt), to), err
		}
	}
	return "", err
}

// renameNoReplace is rename(2) that fails with fs.ErrExist rather than
// replace the target. File systems without RENAME_NOREPLACE get a check
// and a plain rename, which is racy only against another writer of
// corrupt/, where only the daemon writes.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
		if _, lerr := os.Lstat(to); lerr == nil {
			return fs.ErrExist
		}
		err = syscall.Rename(from, to)
	}
	if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
		return fs.ErrExist
	}
	return err
}

// logOnce logs msg for name in st the first time only.
func (s *Store) logOnce(st State, name, msg string, args ...any) {
	key := string(st) + "/" + name
	s.strays.mu.Lock()
	defer s.strays.mu.Unlock()
	switch {
	case s.strays.logged[key]:
	case len(s.strays.logged) < maxLoggedStrays:
		s.strays.logged[key] = true
		s.log.Warn(msg, append([]any{"state", st, "name", name}, args...)...)
	case !s.strays.capped:
		s.strays.capped = true
		s.log.Warn("queue: too many unexpected names in queue directories; no longer logging new ones", "limit", maxLoggedStrays)
	}
}

// typeName names a directory entry's type for people.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return "unknown"
}
