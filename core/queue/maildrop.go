package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maildropSyncer returns an open handle and the function that makes a
// new maildrop entry durable, for a submitter that is not the spool's
// owner. The maildrop is write-and-search only for other users (mode
// 1733, or 1730 with a setgid group), so they cannot open it to fsync
// it. They can still create, fsync and rename files in it; what makes
// the rename durable is then a syncfs(2) of the file system, through
// the spool directory, which everyone may read (0755). A maildrop on
// another file system than its spool is refused rather than left
// unsynced. The owner (make run as an ordinary user, root) gets the
// plain directory fsync.
func maildropSyncer(root string) (*os.File, func() error, error) {
	dir := filepath.Join(root, string(Maildrop))
	d, err := os.Open(dir)
	if err == nil {
		return d, d.Sync, nil
	}
	if !errors.Is(err, fs.ErrPermission) {
		return nil, nil, err
	}
	r, err := os.Open(root)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: cannot sync the maildrop: %w", err)
	}
	var rs, ds unix.Stat_t
	if err := unix.Fstat(int(r.Fd()), &rs); err != nil {
		r.Close()
		return nil, nil, err
	}
	if err := unix.Stat(dir, &ds); err != nil {
		r.Close()
		return nil, nil, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	if ds.Dev != rs.Dev {
		r.Close()
		return nil, nil, fmt.Errorf("queue: %s is on another file system than %s", dir, root)
	}
	fd := int(r.Fd())
	return r, func() error { return unix.Syncfs(fd) }, nil
}
