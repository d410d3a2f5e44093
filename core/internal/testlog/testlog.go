// Package testlog is a logger for tests that count log lines: a
// text-format slog.Logger writing into a buffer safe for concurrent use.
package testlog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// Buffer holds what a logger from New wrote.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// New returns a logger at level and the buffer it writes to.
func New(level slog.Level) (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: level})), b
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything logged so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count is how many lines logged so far contain every one of subs.
func (b *Buffer) Count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}
