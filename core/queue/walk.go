package queue

import (
	"cmp"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// A queue directory may hold a million files after a receiver's outage.
// Walking it must not hold a million directory entries: the listing is
// read in batches and each committed ID kept packed in 12 bytes (its 72
// bits), sorted, and turned back into an ID only as it is handed on. A
// million messages cost about 16 MB of IDs instead of the ~150 MB that
// os.ReadDir's entries and their names take.

// walkBatch is how many directory entries are read at a time.
const walkBatch = 4096

// packedID is an ID's 18 hex digits as numbers: 13 of microseconds
// (52 bits) and 5 of counter (20 bits). Ordering packed IDs orders IDs.
type packedID struct {
	hi uint64
	lo uint32
}

func pack(s string) packedID {
	var p packedID
	for i := 0; i < 13; i++ {
		p.hi = p.hi<<4 | uint64(unhex(s[i]))
	}
	for i := 13; i < idLen; i++ {
		p.lo = p.lo<<4 | uint32(unhex(s[i]))
	}
	return p
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

const hexDigits = "0123456789ABCDEF"

func (p packedID) id() ID {
	var b [idLen]byte
	hi, lo := p.hi, p.lo
	for i := 12; i >= 0; i-- {
		b[i], hi = hexDigits[hi&0xF], hi>>4
	}
	for i := idLen - 1; i >= 13; i-- {
		b[i], lo = hexDigits[lo&0xF], lo>>4
	}
	return ID(b[:])
}

// ids reads st's directory in batches and returns its committed queue
// files packed and sorted, handling strays on the way when the store
// sweeps them.
func (s *Store) ids(st State) ([]packedID, error) {
	f, err := os.Open(filepath.Join(s.root, string(st)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []packedID
	for {
		des, err := f.ReadDir(walkBatch)
		for _, de := range des {
			if Valid(de.Name()) && de.Type().IsRegular() {
				out = append(out, pack(de.Name()))
			} else {
				s.stray(st, de)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(des) == 0) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b packedID) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		return cmp.Compare(a.lo, b.lo)
	})
	return out, nil
}

// WalkIDs calls fn with each committed message in st, by ID (arrival),
// until fn returns false. It holds 16 bytes per message, not the
// directory's entries, so walking a million messages takes about 16 MB;
// fn may read, move or remove the message meanwhile. Temp files, names
// that are not IDs and entries that are not regular files are skipped
// (and swept, see SweepStrays).
func (s *Store) WalkIDs(st State, fn func(ID) bool) error {
	ids, err := s.ids(st)
	if err != nil {
		return err
	}
	for _, p := range ids {
		if !fn(p.id()) {
			break
		}
	}
	return nil
}

// Walk is WalkIDs with each file's modification time and size, from one
// lstat as the walk reaches it; a file gone meanwhile is skipped.
func (s *Store) Walk(st State, fn func(Entry) bool) error {
	dir := filepath.Join(s.root, string(st))
	return s.WalkIDs(st, func(id ID) bool {
		info, err := os.Lstat(filepath.Join(dir, string(id)))
		if err != nil {
			return true // moved away meanwhile
		}
		return fn(Entry{ID: id, MTime: info.ModTime(), Size: info.Size()})
	})
}
