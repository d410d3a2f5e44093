package local

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestTableIsConsistent(t *testing.T) {
	for name, st := range table {
		if st.Enhanced[0] != st.Code/100 || st.Text == "" {
			t.Errorf("%s: %v", name, st)
		}
	}
}

func TestFsStatus(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{syscall.ENOSPC, "452 4.3.1"},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, "552 5.2.2"},
		{fmt.Errorf("w: %w", syscall.EFBIG), "552 5.2.2"},
		{syscall.EACCES, "451 4.2.0"},
		{syscall.EPERM, "451 4.2.0"},
		{errLockTimeout, "451 4.2.0"},
		{syscall.EIO, "451 4.3.0"},
		{errors.New("mystery"), "451 4.3.0"},
	}
	for _, c := range cases {
		st := fsStatus(c.err)
		if got := fmt.Sprintf("%d %s", st.Code, st.Enhanced); got != c.want {
			t.Errorf("fsStatus(%v) = %v, want %s", c.err, st, c.want)
		}
	}
}
