package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Store is a spool directory. It is safe for concurrent use; the caller
// (qmgr, pickup, the admin operations) is responsible for not acting on the
// same message from two places at once.
type Store struct {
	root string
	sync map[State]*groupSync
	dirs []*os.File // open directory handles, closed by Close
	log  *slog.Logger
	// fs, when set, replaces every file and directory fsync with one
	// shared syncfs(2) of the spool's file system (see UseSyncfs).
	fs *groupSync
	// tmpfile caches, per directory, whether O_TMPFILE works there.
	tmpfile sync.Map
	// creating bounds concurrent file creations (see createFile).
	creating chan struct{}
	// spares, when set, holds files of finished messages for reuse
	// (see KeepSpares).
	spares *spares
	// strays, when set, makes listings move strays to corrupt/ (see
	// SweepStrays).
	strays *strays
	// lat times the fsync and syncfs calls, for SyncLatency.
	lat syncLatency
}

// ErrNotFound is returned when no file has the given ID in that state.
var ErrNotFound = errors.New("queue: no such message")

// maxCreating is how many files may be created at once (see createFile).
const maxCreating = 2

// MaildropMode lets local users who are not the daemon's user drop mail
// (write, not list; the sticky bit keeps them from removing each other's
// files): the directory is untrusted input, validated by pickup.
const MaildropMode = 0o1733

// Open creates the spool directories under root as needed and opens them.
func Open(root string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	s := &Store{root: root, sync: map[State]*groupSync{}, log: log, creating: make(chan struct{}, maxCreating)}
	for _, st := range States {
		if err := s.openDir(st); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) openDir(st State) error {
	p := filepath.Join(s.root, string(st))
	mode := os.FileMode(0o700)
	if st == Maildrop {
		mode = MaildropMode
	}
	if err := os.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	} else if err == nil && st == Maildrop {
		// Mkdir is subject to the umask; the maildrop needs its exact
		// mode, sticky bit included (os.Chmod would drop a raw 0o1000).
		if err := unix.Chmod(p, uint32(mode)); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	}
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	s.dirs = append(s.dirs, d)
	s.sync[st] = newGroupSync(timed(&s.lat.dir, d.Sync))
	return nil
}

// UseSyncfs switches the spool to file-system group commit: a commit
// writes and renames its file without fsync, then waits for a syncfs(2)
// of the spool's file system that started after its rename. One syncfs
// makes the data and directory entries of every file committed meanwhile
// durable, so concurrent sessions share one journal commit instead of
// paying one fsync each. The promise is unchanged: nothing is
// acknowledged before it is on disk. It suits a spool on its own file
// system; elsewhere syncfs also flushes other programs' writes.
// Every queue directory must be on the root's file system, or the
// syncfs would not cover it.
func (s *Store) UseSyncfs() error {
	root, err := os.Open(s.root)
	if err != nil {
		return err
	}
	s.dirs = append(s.dirs, root)
	rootDev, err := device(root)
	if err != nil {
		return err
	}
	for _, d := range s.dirs {
		if dev, err := device(d); err != nil {
			return err
		} else if dev != rootDev {
			return fmt.Errorf("queue: %s is on another file system than %s; syncfs would not cover it", d.Name(), s.root)
		}
	}
	fd := int(root.Fd())
	s.fs = newGroupSync(timed(&s.lat.syncfs, func() error { return unix.Syncfs(fd) }))
	return nil
}

// device is the file system a handle is on.
func device(f *os.File) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Dev, nil
}

// syncData makes a file's written data durable: its own fsync, or the
// shared syncfs.
func (s *Store) syncData(f *os.File) error {
	if s.fs != nil {
		return s.fs.Sync()
	}
	return s.fsyncFile(f)
}

// OpenMaildrop opens only the maildrop directory of the spool at root,
// for sendmail running as any local user: it cannot see the other queues.
// The user may write the maildrop but not read it (see maildropSyncer).
func OpenMaildrop(root string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{root: root, sync: map[State]*groupSync{}, log: log, creating: make(chan struct{}, maxCreating)}
	d, sync, err := maildropSyncer(root)
	if err != nil {
		return nil, err
	}
	s.dirs = append(s.dirs, d)
	s.sync[Maildrop] = newGroupSync(sync)
	return s, nil
}

// Close releases the directory handles.
func (s *Store) Close() error {
	for _, d := range s.dirs {
		d.Close()
	}
	return nil
}

// Root is the spool directory.
func (s *Store) Root() string { return s.root }

// Path is the file of message id in state st. id must be Valid.
func (s *Store) Path(st State, id ID) string {
	return filepath.Join(s.root, string(st), string(id))
}

// SyncDir makes renames and removals in st's directory durable.
func (s *Store) SyncDir(st State) error {
	return s.syncer(st).Sync()
}

// syncer is what makes st's directory durable: its own fsync, or the
// spool's syncfs in group-commit mode.
func (s *Store) syncer(st State) *groupSync {
	if s.fs != nil {
		return s.fs
	}
	return s.sync[st]
}

// Move renames message id from one state to another and makes the new
// name durable. An ID that is not Valid is refused, so outside input can
// never name a path outside the spool.
func (s *Store) Move(id ID, from, to State) error {
	if !Valid(string(id)) {
		return fmt.Errorf("queue: invalid ID %q", id)
	}
	if err := rename(s.Path(from, id), s.Path(to, id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotFound
		}
		return err
	}
	return s.SyncDir(to)
}

// Rename moves message id between states without waiting for the
// directory to reach the disk. It is for moves whose loss in a crash is
// harmless: incoming/ or deferred/ to active/ (recovery treats a file in
// either place the same way).
func (s *Store) Rename(id ID, from, to State) error {
	if !Valid(string(id)) {
		return fmt.Errorf("queue: invalid ID %q", id)
	}
	if err := rename(s.Path(from, id), s.Path(to, id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotFound
		}
		return err
	}
	return nil
}

// Remove deletes a finished message. The removal is made durable so a
// restart does not deliver it again.
func (s *Store) Remove(st State, id ID) error {
	if !Valid(string(id)) {
		return fmt.Errorf("queue: invalid ID %q", id)
	}
	if err := os.Remove(s.Path(st, id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotFound
		}
		return err
	}
	return s.SyncDir(st)
}

// Entry is a directory listing item: an ID and its file's modification
// time (for deferred/ the next attempt time).
type Entry struct {
	ID    ID
	MTime time.Time
	Size  int64
}

// List returns the committed messages in st, sorted by ID (arrival).
// Temp files, names that are not IDs and entries that are not regular
// files are skipped (and swept, see SweepStrays).
func (s *Store) List(st State) ([]Entry, error) {
	var out []Entry
	err := s.Walk(st, func(e Entry) bool { out = append(out, e); return true })
	return out, err
}

// IDs returns the committed messages in st, sorted by ID, without the
// per-file stat that List does: the directory entries' types suffice.
func (s *Store) IDs(st State) ([]ID, error) {
	var out []ID
	err := s.WalkIDs(st, func(id ID) bool { out = append(out, id); return true })
	return out, err
}

// SetNextAttempt stamps a deferred file's modification time with the time
// it is due, so scans need only stat it.
func (s *Store) SetNextAttempt(st State, id ID, t time.Time) error {
	return os.Chtimes(s.Path(st, id), t, t)
}

// Quarantine moves an unreadable file to corrupt/ and logs why. It never
// deletes: a human decides. Nor does it replace what corrupt/ holds under
// the same name (a local user may drop a file named after one there): the
// file then lands beside it as ID.1 and so on.
func (s *Store) Quarantine(st State, id ID, why error) {
	if !Valid(string(id)) {
		s.log.Error("cannot quarantine queue file", "queue_id", id, "state", st, "err", "invalid ID")
		return
	}
	to, err := s.moveToCorrupt(st, string(id))
	if err == nil {
		err = s.SyncDir(Corrupt)
	}
	if err != nil {
		s.log.Error("cannot quarantine queue file", "queue_id", id, "state", st, "err", err)
		return
	}
	s.log.Error("queue file moved to corrupt/", "queue_id", id, "state", st, "moved_to", to, "reason", why)
}

// Recover runs at start-up, before anything else uses the spool: files
// left in active/ by a crash go back to incoming/, and uncommitted temp
// files and spare files (never acknowledged to anyone) are removed.
// A store that sweeps strays moves them out of every queue but the
// maildrop (pickup's) on the way.
func (s *Store) Recover() (requeued int, err error) {
	for _, st := range States {
		s.removeTemps(st)
	}
	s.purgeSpares()
	ents, err := s.List(Active)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		if err := s.Move(e.ID, Active, Incoming); err != nil {
			return requeued, err
		}
		requeued++
	}
	return requeued, nil
}

func (s *Store) removeTemps(st State) {
	if st == Maildrop {
		return // sendmail may be writing one right now
	}
	// In batches, unsorted: deferred/ may hold a million files, and
	// this runs before the daemon accepts mail.
	f, err := os.Open(filepath.Join(s.root, string(st)))
	if err != nil {
		return
	}
	defer f.Close()
	for {
		des, err := f.ReadDir(walkBatch)
		for _, de := range des {
			switch {
			case isTemp(de.Name()):
				os.Remove(filepath.Join(s.root, string(st), de.Name()))
			case !Valid(de.Name()) || !de.Type().IsRegular():
				s.stray(st, de)
			}
		}
		if err != nil || len(des) == 0 {
			return
		}
	}
}

// rename is rename(2). os.Rename first stats the target to refuse
// renaming over a directory, which never applies to queue files and costs
// a system call per move.
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
