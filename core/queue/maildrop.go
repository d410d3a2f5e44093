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

// MaildropGroupMode is the maildrop's mode when only a setgid group may
// submit (Postfix's 1730 postfix:postdrop): the owner reads it, the
// group and the sticky bit as in MaildropMode, others nothing.
const MaildropGroupMode = 0o1730

// SetMaildropAccess sets, at every daemon start, who may drop mail:
// gid < 0 lets every local user (MaildropMode); otherwise only programs
// running with group gid, a sendmail installed setgid to it, may
// (MaildropGroupMode, group gid). Changing the group needs root, or an
// owner who is a member of it.
func (s *Store) SetMaildropAccess(gid int) error {
	p := filepath.Join(s.root, string(Maildrop))
	mode := uint32(MaildropMode)
	if gid >= 0 {
		if err := unix.Lchown(p, -1, gid); err != nil {
			return &os.PathError{Op: "chgrp", Path: p, Err: err}
		}
		mode = MaildropGroupMode
	}
	if err := unix.Chmod(p, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}
