package queue

import (
	"os"
	"time"

	"github.com/moonpost/moonpost/core/metrics/tally"
)

// syncLatency times the calls that make the spool durable, for
// /metrics: each is a system call of a millisecond or more, so reading
// the clock twice costs nothing in comparison.
type syncLatency struct {
	file   tally.Histogram // fsync of a queue file's data
	dir    tally.Histogram // fsync of a queue directory
	syncfs tally.Histogram // syncfs of the spool's file system (group commit)
}

// timed wraps a sync function so that its duration lands in h.
func timed(h *tally.Histogram, do func() error) func() error {
	return func() error {
		start := time.Now()
		err := do()
		h.Since(start)
		return err
	}
}

// fsyncFile fsyncs one queue file, timed.
func (s *Store) fsyncFile(f *os.File) error {
	start := time.Now()
	err := f.Sync()
	s.lat.file.Since(start)
	return err
}

// SyncLatency returns the durations of the spool's sync calls so far, by
// kind: "fsync" (a file's data), "dirsync" (a directory), "syncfs"
// (the spool's file system, in group-commit mode).
func (s *Store) SyncLatency() map[string]tally.HistogramSnapshot {
	return map[string]tally.HistogramSnapshot{
		"fsync":   s.lat.file.Snapshot(),
		"dirsync": s.lat.dir.Snapshot(),
		"syncfs":  s.lat.syncfs.Snapshot(),
	}
}
