package smtpd

import (
	"golang.org/x/sys/unix"

	"github.com/moonpost/moonpost/core/dsn"
)

// checkStorage is Postfix's queue_minfree check (smtpd_check_size),
// made at MAIL so that a client learns of a full disk before it sends
// the message, not after: 452 4.3.1 when no more than QueueMinFree bytes
// are free, or when the declared SIZE does not fit above QueueMinFree,
// or is not below two thirds of what is free. Without SIZE only the
// first test applies; DATA still fails cleanly (cleanup's write error)
// if the message then does not fit. A FreeSpace error is a temporary
// failure: when unsure, the client comes back.
func (s *Server) checkStorage(size int64) *dsn.Status {
	if s.config().FreeSpace == nil {
		return nil
	}
	free, err := s.config().FreeSpace()
	if err != nil {
		s.log.Error("warning: cannot read the queue file system's free space", "err", err)
		return dsn.TempLocal
	}
	minFree := max(s.config().QueueMinFree, 0)
	if free <= minFree || size >= free-minFree || float64(size) >= float64(free)/1.5 {
		s.log.Warn("warning: not enough free space in the mail queue", "free", free, "queue_minfree", minFree, "size", size)
		return noStorage
	}
	return nil
}

// SpoolFreeSpace returns a Config.FreeSpace that asks statfs(2) how many
// bytes of dir's file system an unprivileged writer may still use.
func SpoolFreeSpace(dir string) func() (int64, error) {
	return func() (int64, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return 0, err
		}
		return int64(st.Bavail) * int64(st.Bsize), nil
	}
}
