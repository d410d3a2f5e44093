package queue

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// maildropMode is the maildrop's permission bits with the sticky bit.
func maildropMode(t *testing.T, root string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, string(Maildrop)))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Mode & 0o7777, st.Gid
}

func TestMaildropModes(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m, _ := maildropMode(t, root); m != 0o1733 {
		t.Errorf("new maildrop mode %o, want 1733 (sticky: users cannot remove each other's files)", m)
	}
	gid := os.Getgid()
	if err := s.SetMaildropAccess(gid); err != nil {
		t.Fatal(err)
	}
	if m, g := maildropMode(t, root); m != 0o1730 || int(g) != gid {
		t.Errorf("setgid maildrop %o group %d, want 1730 group %d", m, g, gid)
	}
	if err := s.SetMaildropAccess(-1); err != nil {
		t.Fatal(err)
	}
	if m, _ := maildropMode(t, root); m != 0o1733 {
		t.Errorf("back to world-writable: %o", m)
	}
}
