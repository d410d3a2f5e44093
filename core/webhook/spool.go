package webhook

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// spool is a sink's folder of batch files, oldest (lowest number) first.
type spool struct {
	dir string

	mu    sync.Mutex
	files []batch // in sequence order
	bytes int64   // their total size
	next  uint64  // sequence number of the next batch
}

type batch struct {
	seq  uint64
	size int64
}

func (b batch) name() string { return fmt.Sprintf("%016d.json", b.seq) }

// openSpool creates dir if needed, removes temp files a crash left, and
// lists the batches waiting to be sent.
func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(filepath.Join(dir, name)) // never renamed: not committed
			continue
		}
		num, ok := strings.CutSuffix(name, ".json")
		seq, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil {
			continue // not ours; left alone
		}
		info, err := de.Info()
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, batch{seq: seq, size: info.Size()})
		s.bytes += info.Size()
		s.next = max(s.next, seq+1)
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].seq < s.files[j].seq })
	return s, nil
}

// room reports whether n more bytes fit under limit.
func (s *spool) room(n, limit int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes+n <= limit
}

// write commits body as the next batch: temp file, fsync, rename, fsync
// of the folder.
func (s *spool) write(body []byte) error {
	s.mu.Lock()
	b := batch{seq: s.next, size: int64(len(body))}
	s.next++
	s.mu.Unlock()
	tmp := filepath.Join(s.dir, ".tmp-"+b.name())
	if err := writeSynced(tmp, body); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, b.name())); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	s.files = append(s.files, b)
	s.bytes += b.size
	s.mu.Unlock()
	return nil
}

// oldest returns the first batch and its content; ok is false when the
// spool is empty.
func (s *spool) oldest() (b batch, body []byte, ok bool, err error) {
	s.mu.Lock()
	if len(s.files) == 0 {
		s.mu.Unlock()
		return batch{}, nil, false, nil
	}
	b = s.files[0]
	s.mu.Unlock()
	body, err = os.ReadFile(filepath.Join(s.dir, b.name()))
	return b, body, true, err
}

// remove drops a batch that was sent (or that cannot be read, after it
// was moved aside).
func (s *spool) remove(b batch) error {
	if err := os.Remove(filepath.Join(s.dir, b.name())); err != nil && !os.IsNotExist(err) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.files {
		if f.seq == b.seq {
			s.files = append(s.files[:i], s.files[i+1:]...)
			s.bytes -= f.size
			break
		}
	}
	return nil
}

// usage is the number of batches and their bytes.
func (s *spool) usage() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files), s.bytes
}

func writeSynced(path string, body []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
