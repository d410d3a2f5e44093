package queue

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// Spare files: the file of a delivered message is kept for the next new
// message instead of being unlinked and a new one created.
//
// Creating a file costs the kernel an inode allocation, and on ext4
// without a journal every allocation first skips the inodes freed in the
// last minutes (so that a crash cannot mix an old file's blocks into a new
// one): with thousands of messages a minute created and removed, that
// search grew into the largest single cost of accepting a message. A
// spare costs a rename out of active/ and a rename into incoming/, and
// its blocks are rewritten in place.
//
// The rules that keep this safe:
//
//   - spares live in spare/, outside every queue state: listing, scans
//     and recovery never see them as mail;
//   - a file becomes a spare only once its message is finished and the
//     last reference to it is released (Message.Remove), so nothing can
//     write into it through an old descriptor or path;
//   - a reused file is rewritten from offset 0, cut to its new length and
//     fsynced before it is renamed into its queue (Writer.Commit);
//   - start-up recovery unlinks every spare (Recover): after a crash a
//     spare's directory entry may not be what the disk remembers, so a
//     spare is never trusted across a restart;
//   - only the daemon keeps spares (KeepSpares); other programs that open
//     the spool unlink as before.
type spares struct {
	dir  string
	max  int
	mu   sync.Mutex
	free []string // paths in spare/, ready for reuse
	next uint64   // name counter, with the pid for uniqueness
	pid  string
}

// spareDir is the directory of spare files under the spool root.
const spareDir = "spare"

// KeepSpares makes the store keep up to n files of finished messages for
// reuse by new ones (see spares). Call it after Recover.
func (s *Store) KeepSpares(n int) error {
	dir := filepath.Join(s.root, spareDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	s.spares = &spares{dir: dir, max: n, pid: strconv.Itoa(os.Getpid())}
	return nil
}

// dropSpares unlinks the spares in the pool: a full disk needs their
// blocks more than the next commits need their inodes.
func (s *Store) dropSpares() {
	sp := s.spares
	if sp == nil {
		return
	}
	sp.mu.Lock()
	free := sp.free
	sp.free = nil
	sp.mu.Unlock()
	for _, p := range free {
		os.Remove(p)
	}
}

// purgeSpares unlinks every spare file (Recover: they may be left by an
// earlier run).
func (s *Store) purgeSpares() {
	if sp := s.spares; sp != nil {
		sp.mu.Lock()
		sp.free = nil
		sp.mu.Unlock()
	}
	dir := filepath.Join(s.root, spareDir)
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		os.Remove(filepath.Join(dir, de.Name()))
	}
}

// takeSpare opens a spare file for a new message, or returns nil when
// there is none. size is the file's length, -1 if unknown.
func (s *Store) takeSpare() (f *os.File, path string, size int64) {
	sp := s.spares
	if sp == nil {
		return nil, "", 0
	}
	for {
		sp.mu.Lock()
		n := len(sp.free)
		if n == 0 {
			sp.mu.Unlock()
			return nil, "", 0
		}
		path := sp.free[n-1]
		sp.free = sp.free[:n-1]
		sp.mu.Unlock()
		f, err := openFile(path, syscall.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err == nil {
			size := int64(-1)
			if fi, err := f.Stat(); err == nil {
				size = fi.Size()
			}
			return f, path, size
		}
		os.Remove(path)
	}
}

// maxSpareSize is the largest spare kept with its blocks: a larger one
// is cut to nothing, so spares never hold more than
// spares.max × maxSpareSize of disk.
const maxSpareSize = 64 << 10

// offerSpare makes a retired file of size bytes available for reuse, or
// unlinks it when the pool is full.
func (s *Store) offerSpare(path string, size int64) {
	sp := s.spares
	sp.mu.Lock()
	keep := len(sp.free) < sp.max
	sp.mu.Unlock()
	if !keep {
		os.Remove(path)
		return
	}
	if size > maxSpareSize {
		if err := os.Truncate(path, 0); err != nil {
			os.Remove(path)
			return
		}
	}
	sp.mu.Lock()
	sp.free = append(sp.free, path)
	sp.mu.Unlock()
}

// retire takes a finished message's file out of its queue, durably: into
// spare/ when spares are kept (returning its new path), else unlinked.
func (s *Store) retire(st State, path string) (spare string, err error) {
	if sp := s.spares; sp != nil {
		sp.mu.Lock()
		sp.next++
		spare = filepath.Join(sp.dir, sp.pid+"."+strconv.FormatUint(sp.next, 10))
		sp.mu.Unlock()
		err = rename(path, spare)
	} else {
		err = os.Remove(path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", ErrNotFound
		}
		return "", err
	}
	return spare, s.SyncDir(st)
}
