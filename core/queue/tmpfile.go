package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createFile opens a new, not yet visible file for message id in st.
//
// Where the file system supports it, the file is an unnamed O_TMPFILE:
// creating it takes no directory lock, it needs no cleanup after a crash,
// and committing it is a single link under its final name, where a named
// temp file costs a create and a rename in the same directory. Under
// concurrent commits that directory lock was the spool's hottest point.
// Elsewhere a dot-file named temp file is used, which readers skip and
// recovery removes.
func (s *Store) createFile(st State, id ID) (f *os.File, tmp string, err error) {
	// The kernel serialises file creation on a file system (the
	// directory lock, or ext4's orphan list for O_TMPFILE) and spins
	// while it waits; with a hundred sessions that spinning cost more CPU
	// than the work. Queueing here, two at a time, waits for free.
	s.creating <- struct{}{}
	defer func() { <-s.creating }()
	dir := filepath.Join(s.root, string(st))
	if s.tmpfileOK(dir) {
		f, err = openFile(dir, unix.O_RDWR|unix.O_TMPFILE, 0o600)
		if err == nil {
			return f, "", nil
		}
	}
	tmp = filepath.Join(dir, "."+string(id)+".tmp")
	f, err = openFile(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
	return f, tmp, err
}

// openFile opens a queue file as a plain blocking descriptor. os.OpenFile
// would make it non-blocking and offer it to the network poller (which
// refuses regular files), and Fd() would then switch it back: five
// system calls per open that a queue file never needs.
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	fd, err := unix.Open(path, flag|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// linkTmpfile names an O_TMPFILE. Linking through /proc/self/fd works for
// any user (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
func linkTmpfile(f *os.File, final string) error {
	src := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW); err != nil {
		return fmt.Errorf("link %s: %w", final, err)
	}
	return nil
}

// tmpfileOK probes once per directory whether O_TMPFILE and linking it
// work here (file system support, /proc mounted).
func (s *Store) tmpfileOK(dir string) bool {
	if v, ok := s.tmpfile.Load(dir); ok {
		return v.(bool)
	}
	ok := probeTmpfile(dir) == nil
	s.tmpfile.Store(dir, ok)
	return ok
}

func probeTmpfile(dir string) error {
	f, err := openFile(dir, unix.O_RDWR|unix.O_TMPFILE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	probe := filepath.Join(dir, ".tmpfile-probe-"+strconv.Itoa(os.Getpid()))
	if err := linkTmpfile(f, probe); err != nil {
		return err
	}
	return errors.Join(os.Remove(probe))
}
