package cleanup

import (
	"bytes"
	"io"
	"os"
)

// spillMem is how much of a buffered body stays in memory; the rest goes
// to an unlinked temp file in the spool, so a large message costs disk,
// not memory, while it is signed or verified.
const spillMem = 256 << 10

// spill holds a message body that must be read more than once: once to
// sign or verify it, once more to write it to the queue file.
type spill struct {
	mem  bytes.Buffer
	file *os.File // overflow; unlinked at creation
	dir  string
}

// readSpill copies r into a spill. It stops a byte past limit (0: no
// limit): the queue writer then refuses the message as too big, and an
// endless input never fills the disk.
func readSpill(dir string, r io.Reader, limit int64) (*spill, error) {
	s := &spill{dir: dir}
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	_, err := io.CopyN(&s.mem, src, spillMem)
	if err == io.EOF {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if s.file, err = os.CreateTemp(dir, ".spill-"); err != nil {
		return s, err
	}
	os.Remove(s.file.Name())
	_, err = io.Copy(s.file, src)
	return s, err
}

// Reader reads the whole body from its start; one reader at a time.
func (s *spill) Reader() io.Reader {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes())
	}
	return io.MultiReader(bytes.NewReader(s.mem.Bytes()), io.NewSectionReader(s.file, 0, 1<<62))
}

func (s *spill) Close() {
	if s != nil && s.file != nil {
		s.file.Close()
	}
}
