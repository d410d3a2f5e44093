package queue

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// ID names a queued message and its file. It is 18 upper-case hex
// characters: 13 of microseconds since the epoch, so IDs sort by arrival,
// then 5 of a per-process counter seeded at random, so two processes
// (the daemon and a sendmail) minting IDs in the same microsecond do not
// collide in practice; file creation with O_EXCL catches the rest.
type ID string

const idLen = 18

var idCounter atomic.Uint32

func init() {
	var b [4]byte
	_, _ = rand.Read(b[:])
	idCounter.Store(binary.LittleEndian.Uint32(b[:]))
}

// NewID mints an ID for a message arriving at t.
func NewID(t time.Time) ID {
	n := idCounter.Add(1) & 0xFFFFF
	return ID(fmt.Sprintf("%013X%05X", t.UnixMicro()&0xFFFFFFFFFFFFF, n))
}

// Valid reports whether s is a well-formed ID. Everything that turns an
// outside string (a file name, a CLI argument) into a path checks this
// first, so "../x" can never escape the spool.
func Valid(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Time returns the arrival time encoded in a valid ID.
func (id ID) Time() time.Time {
	var us int64
	for i := 0; i < 13 && i < len(id); i++ {
		c := id[i]
		var v int64
		switch {
		case c >= '0' && c <= '9':
			v = int64(c - '0')
		case c >= 'A' && c <= 'F':
			v = int64(c-'A') + 10
		}
		us = us<<4 | v
	}
	return time.UnixMicro(us)
}
