package queue

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// Message is a queued message opened for reading: its envelope with the
// journal applied, and its content.
type Message struct {
	Envelope
	State State
	store *Store   // for the sync method
	path  string   // where the file was read; it stays there while in use
	f     *os.File // nil while no one holds a reference
	refs  int      // holders of f: Read gives one, Acquire adds one
	off   int64    // content offset
	end   int64    // end of the last complete journal record
	torn  bool     // bytes after end: a record torn by a crash, cut on append
	// removed is set by Remove; spare is the retired file's path until
	// the last reference is released and it is offered for reuse.
	removed bool
	spare   spareFile
	// mu serialises Append: deliveries to different destinations record
	// their outcomes for the same message concurrently.
	mu sync.Mutex
}

// ErrCorrupt wraps every parse failure; callers quarantine such files.
var ErrCorrupt = errors.New("queue: corrupt queue file")

// maxFileSize bounds what Read accepts, against hostile maildrop files.
const maxFileSize = 1 << 40

// Read opens message id in state st. A file that does not parse gives an
// error wrapping ErrCorrupt; the caller decides to quarantine it. The
// Message must be closed.
func (s *Store) Read(st State, id ID) (*Message, error) {
	if !Valid(string(id)) {
		return nil, fmt.Errorf("queue: invalid ID %q", id)
	}
	return s.readPath(st, s.Path(st, id))
}

func (s *Store) readPath(st State, path string) (*Message, error) {
	if st == Maildrop {
		// Anyone can drop entries here: look before opening, so a device
		// node is never opened (opening one can have effects). Elsewhere
		// only the daemon writes, and listings go by the entry's type.
		if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: not a regular file (%s)", ErrCorrupt, typeName(fi.Mode()))
		}
	}
	f, err := openFile(path, syscall.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		if notRegular(err) {
			// The file's fault, not a passing one: retrying would meet
			// it again at every scan.
			return nil, fmt.Errorf("%w: not a regular file: %v", ErrCorrupt, err)
		}
		return nil, err
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() > maxFileSize {
		f.Close()
		return nil, fmt.Errorf("%w: not a regular file of sane size", ErrCorrupt)
	}
	p, err := decode(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m := &Message{Envelope: p.env, State: st, store: s, path: path, f: f, refs: 1, off: p.contentOff, end: p.goodEnd}
	m.torn = info.Size() > p.goodEnd
	return m, nil
}

// notRegular tells the open errors of a queue name that is not a
// regular file: a symlink (O_NOFOLLOW), a directory, a socket.
func notRegular(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENXIO)
}

// Note applies records to the in-memory envelope only. The queue
// manager uses it for outcomes that need no durability because the file
// is removed right after: a crash in between repeats the delivery, which
// is the allowance for mail in flight at a crash.
func (m *Message) Note(recs ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		if err := journalRecord(&m.Envelope, r.kind, r.fields); err != nil {
			return err
		}
	}
	return nil
}

// Lock and Unlock guard the envelope against a concurrent Append, for
// readers in other goroutines.
func (m *Message) Lock() { m.mu.Lock() }

// Unlock ends Lock.
func (m *Message) Unlock() { m.mu.Unlock() }

// Close gives up the reference Read returned; it is Release.
func (m *Message) Close() error { return m.Release() }

// Release gives up one reference; the file is closed when none remain, so
// a queue manager holding thousands of messages holds no descriptors for
// the ones waiting. Releasing more than was acquired is harmless.
func (m *Message) Release() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs > 0 {
		m.refs--
	}
	if m.refs > 0 || m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	m.offerSpare()
	return err
}

// ErrRemoved is returned by Append and Acquire on a removed message.
var ErrRemoved = errors.New("queue: message removed")

// Remove takes the finished message out of the queue. Its file is reused
// for a new message (see spares) once no reference remains; until then,
// and after, nothing more can be written through m. Without spares the
// removal is durable when Remove returns; with them, before the file is
// reused (a crash before may bring the message back, never lose one).
func (m *Message) Remove() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return ErrNotFound
	}
	spare, err := m.store.retire(m.State, m.path)
	if err != nil {
		return err
	}
	m.removed, m.spare = true, spare
	if m.f == nil {
		m.offerSpare()
	}
	return nil
}

// offerSpare hands the retired file on once it is closed; m.mu is held.
func (m *Message) offerSpare() {
	if m.spare.path != "" {
		m.store.offerSpare(m.spare, m.end)
		m.spare = spareFile{}
	}
}

// Acquire takes a reference, reopening the file if none was held. Open
// needs one.
func (m *Message) Acquire() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return ErrRemoved
	}
	if m.f == nil {
		f, err := openFile(m.path, syscall.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		m.f = f
	}
	m.refs++
	return nil
}

// Open returns a fresh reader over the content; the caller holds a
// reference (Read's or Acquire's). Readers are independent and safe to
// use concurrently.
func (m *Message) Open() io.Reader {
	m.mu.Lock()
	f := m.f
	m.mu.Unlock()
	return io.NewSectionReader(f, m.off, m.Size())
}

// Size is the content length.
func (m *Message) Size() int64 { return m.Envelope.Size }

// Append adds journal records and fsyncs them before returning: once it
// returns nil, the outcomes survive a crash. A torn record left by an
// earlier crash is cut off first, so records never run together.
func (m *Message) Append(recs ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return ErrRemoved
	}
	if m.f == nil { // no holder: open just for this write
		f, err := openFile(m.path, syscall.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		m.f = f
		defer func() { m.f.Close(); m.f = nil }()
	}
	var b []byte
	for _, r := range recs {
		b = r.appendTo(b)
	}
	if _, err := m.f.WriteAt(b, m.end); err != nil {
		// A partial write may have left bytes past m.end: cut them off
		// before the next append, as after a crash.
		m.torn = true
		return m.store.mapErr(err)
	}
	m.end += int64(len(b))
	if m.torn {
		if err := m.f.Truncate(m.end); err != nil {
			return m.store.mapErr(err)
		}
		m.torn = false
	}
	if err := m.store.syncData(m.f); err != nil {
		return m.store.mapErr(err)
	}
	for _, r := range recs {
		if err := journalRecord(&m.Envelope, r.kind, r.fields); err != nil {
			return err
		}
	}
	return nil
}
