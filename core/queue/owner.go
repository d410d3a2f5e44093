package queue

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Owner is the uid owning the message's file, from the open handle, so
// it is the owner of the very file that was parsed. pickup takes the
// submitting user from it: a maildrop file's contents are whatever its
// writer chose, its owner is what the kernel recorded.
func (m *Message) Owner() (uint32, error) {
	if m.f == nil {
		return 0, errors.New("queue: message not open")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(m.f.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Uid, nil
}
