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
//   - a reused file is rewritten from offset 0, padded or cut to its new
//     length and fsynced before it is renamed into its queue
//     (Writer.Commit);
//   - the directory a spare was retired from is fsynced after the retire
//     and before the spare is reused (takeSpare), so that a crash can
//     never leave the old message's name pointing at a new message's
//     content. Retiring does not sync by itself: the oldest spare is
//     reused first, and one directory fsync covers every spare retired
//     before it began, so under a steady flow few reuses need one;
//   - start-up recovery unlinks every spare (Recover): after a crash a
//     spare's directory entry may not be what the disk remembers, so a
//     spare is never trusted across a restart;
//   - only the daemon keeps spares (KeepSpares); other programs that open
//     the spool unlink as before.
type spares struct {
	dir  string
	max  int
	mu   sync.Mutex
	free []spareFile // in spare/, oldest first
	next uint64      // name counter, with the pid for uniqueness
	pid  string
}

// spareFile is a spare and what makes its retire durable: sync number
// need of the directory it was retired from.
type spareFile struct {
	path string
	from *groupSync
	need uint64
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

// DropSpares unlinks the spare files kept for reuse, for a caller that
// needs a new inode or blocks on a full spool (the control socket, say).
func (s *Store) DropSpares() { s.dropSpares() }

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
	for _, sf := range free {
		os.Remove(sf.path)
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

// takeSpare opens the oldest spare file for a new message, or returns
// nil when there is none. size is the file's length, -1 if unknown. The
// directory it was retired from is synced first if no sync since the
// retire has covered it.
func (s *Store) takeSpare() (f *os.File, sf spareFile, size int64) {
	sp := s.spares
	if sp == nil {
		return nil, spareFile{}, 0
	}
	for {
		sp.mu.Lock()
		if len(sp.free) == 0 {
			sp.mu.Unlock()
			return nil, spareFile{}, 0
		}
		sf := sp.free[0]
		sp.free[0] = spareFile{}
		sp.free = sp.free[1:]
		sp.mu.Unlock()
		if !sf.from.covered(sf.need) && sf.from.Sync() != nil {
			// The retire may not be on disk: the file must not carry
			// a new message.
			os.Remove(sf.path)
			continue
		}
		f, err := openFile(sf.path, syscall.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err == nil {
			size := int64(-1)
			if fi, err := f.Stat(); err == nil {
				size = fi.Size()
			}
			return f, sf, size
		}
		os.Remove(sf.path)
	}
}

// maxSpareSize is the largest spare kept with its blocks: a larger one
// is cut to nothing, so spares never hold more than
// spares.max × maxSpareSize of disk.
const maxSpareSize = 64 << 10

// offerSpare makes a retired file of size bytes available for reuse, or
// unlinks it when the pool is full.
func (s *Store) offerSpare(sf spareFile, size int64) {
	sp := s.spares
	sp.mu.Lock()
	keep := len(sp.free) < sp.max
	sp.mu.Unlock()
	if !keep {
		os.Remove(sf.path)
		return
	}
	if size > maxSpareSize {
		if err := os.Truncate(sf.path, 0); err != nil {
			os.Remove(sf.path)
			return
		}
	}
	sp.mu.Lock()
	sp.free = append(sp.free, sf)
	sp.mu.Unlock()
}

// retire takes a finished message's file out of its queue: into spare/
// when spares are kept, else unlinked and the directory synced. A spare's
// retire is made durable before its reuse (takeSpare), not here: until
// the directory is written, a crash can only bring the finished message
// back (delivered twice, never lost), as after Postfix's unlink.
func (s *Store) retire(st State, path string) (spare spareFile, err error) {
	if sp := s.spares; sp != nil {
		sp.mu.Lock()
		sp.next++
		name := filepath.Join(sp.dir, sp.pid+"."+strconv.FormatUint(sp.next, 10))
		sp.mu.Unlock()
		if err := rename(path, name); err != nil {
			return spareFile{}, notFound(err)
		}
		g := s.syncer(st)
		return spareFile{path: name, from: g, need: g.mark()}, nil
	}
	if err := os.Remove(path); err != nil {
		return spareFile{}, notFound(err)
	}
	return spareFile{}, s.SyncDir(st)
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	return err
}
