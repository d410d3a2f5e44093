package queue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// ErrNoSpace is returned when the spool's file system is full; smtpd
// answers 452 4.3.1 for it.
var ErrNoSpace = errors.New("queue: no space left on device")

// Writer streams one new message into the spool. Nothing is visible to
// readers until Commit returns nil; Abort (or a crash) leaves no trace
// but a temp file that recovery removes.
type Writer struct {
	store   *Store
	state   State
	env     *Envelope
	f       *os.File
	bw      *bufio.Writer
	head    []byte    // the encoded envelope, as written
	tmp     string    // temp file name; "" for an unnamed O_TMPFILE
	spare   spareFile // the reused spare; path "" for a new file
	old     int64     // the spare's length when taken, -1 if unknown
	written int64     // bytes written: envelope and content
	sizeOff int64     // offset of the content size digits
	size    int64     // content bytes written so far
	limit   int64     // content limit, 0 for none
	err     error     // first write error; sticky
}

// ErrTooBig is returned by Write once the content exceeds the limit.
var ErrTooBig = errors.New("queue: message too big")

// Create starts a new message in state st (incoming/, hold/ or
// maildrop/). env.ID is minted if empty; Size is set by Commit. limit
// bounds the content size (0: none).
func (s *Store) Create(st State, env *Envelope, limit int64) (*Writer, error) {
	if env.ID == "" {
		env.ID = NewID(time.Now())
	}
	if env.Arrival.IsZero() {
		env.Arrival = time.Now()
	}
	f, spare, old := s.takeSpare()
	var tmp string
	if f == nil {
		var err error
		if f, tmp, err = s.createFile(st, env.ID); err != nil {
			return nil, s.mapErr(err)
		}
	}
	head, off := encodeEnvelope(env)
	w := &Writer{store: s, state: st, env: env, f: f, head: head, tmp: tmp, spare: spare, old: old, sizeOff: int64(off), limit: limit, written: int64(len(head))}
	w.bw = bufpool.Writer(f)
	if _, err := w.bw.Write(head); err != nil {
		w.Abort()
		return nil, s.mapErr(err)
	}
	return w, nil
}

// Write appends content bytes.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.limit > 0 && w.size+int64(len(p)) > w.limit {
		w.err = ErrTooBig
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.size += int64(n)
	w.written += int64(n)
	if err != nil {
		w.err = w.store.mapErr(err)
	}
	return n, w.err
}

// Size is the content size written so far.
func (w *Writer) Size() int64 { return w.size }

// ID is the new message's queue ID.
func (w *Writer) ID() ID { return w.env.ID }

// Commit makes the message durable and visible: flush, fill in the
// content size, fsync the file, rename it into place, fsync the directory.
// Only after Commit returns nil may anyone be told the mail is queued.
func (w *Writer) Commit() error {
	return w.commit(w.state, false)
}

// CommitActive commits a message created for incoming/ straight into
// active/ and returns it open, as Store.Read would, for a queue manager
// that has taken it into its active set: no move from incoming/, no
// read back. The envelope is decoded from the bytes written. After a
// crash active/ returns to incoming/ (Recover), as for any active mail.
func (w *Writer) CommitActive() (*Message, error) {
	if w.state != Incoming {
		w.Abort()
		return nil, fmt.Errorf("queue: CommitActive of a message for %s", w.state)
	}
	p, err := decodeHead(w.head)
	if err != nil { // cannot happen: the head was encoded here
		w.Abort()
		return nil, err
	}
	if err := w.commit(Active, true); err != nil {
		if w.f != nil {
			// Named in active/ but the directory sync failed: the client
			// is told to retry; put the file where a listing of
			// incoming/ finds it, as Commit would have left it.
			w.f.Close()
			w.f = nil
			_ = w.store.Rename(w.env.ID, Active, Incoming)
		}
		return nil, err
	}
	p.env.Size = w.size
	m := &Message{Envelope: p.env, State: Active, store: w.store, path: w.store.Path(Active, w.env.ID),
		f: w.f, refs: 1, off: p.contentOff, end: w.written}
	w.f = nil
	return m, nil
}

// commit flushes, names the file in st and syncs st's directory; keep
// leaves the file open (w.f still set) for the caller.
func (w *Writer) commit(st State, keep bool) error {
	if w.err != nil {
		w.Abort()
		return w.err
	}
	err := w.finish()
	w.dropBuf()
	if err != nil {
		w.Abort()
		return w.store.mapErr(err)
	}
	w.env.Size = w.size
	if err := w.name(st, keep); err != nil {
		w.Abort()
		return w.store.mapErr(err)
	}
	if err := w.store.SyncDir(st); err != nil {
		// The rename may or may not survive a crash; the file is
		// complete either way, so leave it and report the failure: the
		// client retries, at worst the message arrives twice.
		return w.store.mapErr(err)
	}
	return nil
}

func (w *Writer) finish() error {
	end := paddedEnd(w.written, w.old)
	writePad(w.bw, end-w.written)
	if err := w.bw.Flush(); err != nil {
		return err
	}
	w.written = end
	digits := fmt.Sprintf("%0*d", sizeDigits, w.size)
	if _, err := w.f.WriteAt([]byte(digits), w.sizeOff); err != nil {
		return err
	}
	if w.spare.path != "" && (w.old < 0 || w.old > end) {
		// A reused file longer than this message: cut the rest.
		if err := w.f.Truncate(end); err != nil {
			return err
		}
	}
	if w.store.fs != nil {
		return nil // group commit: the syncfs after naming covers the data
	}
	return w.store.fsyncFile(w.f)
}

// name gives the finished file its queue ID name in st: a link for an
// unnamed O_TMPFILE, a rename for a named temp file or a spare. Unless
// keep, it closes the file; with keep, w.f is left to the caller once
// the name is given (and closed on failure).
func (w *Writer) name(st State, keep bool) error {
	final := w.store.Path(st, w.env.ID)
	var err error
	switch {
	case w.spare.path != "":
		if err = rename(w.spare.path, final); err == nil {
			w.spare = spareFile{}
		}
	case w.tmp == "":
		err = linkTmpfile(w.f, final)
	default:
		if err = os.Rename(w.tmp, final); err == nil {
			w.tmp = ""
		}
	}
	if err != nil || !keep {
		w.f.Close()
	}
	if err == nil && keep {
		return nil
	}
	w.f = nil
	return err
}

// dropBuf gives the write buffer back; later writes fail.
func (w *Writer) dropBuf() {
	if w.bw != nil {
		bufpool.PutWriter(w.bw)
		w.bw = nil
	}
	if w.err == nil {
		w.err = errFinished
	}
}

// errFinished is returned by writes after Commit or Abort.
var errFinished = errors.New("queue: message already committed or aborted")

// Abort discards the message.
func (w *Writer) Abort() {
	w.dropBuf()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.tmp != "" {
		os.Remove(w.tmp)
	}
	if w.spare.path != "" {
		w.store.offerSpare(w.spare, w.written)
		w.spare = spareFile{}
	}
}

// mapErr is mapErr for the store's writes: when the disk is full it
// also gives the spares' blocks back.
func (s *Store) mapErr(err error) error {
	err = mapErr(err)
	if errors.Is(err, ErrNoSpace) {
		s.dropSpares()
	}
	return err
}

func mapErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return err
}

// Discard reads and drops the rest of r, so a refused DATA stream is
// consumed.
func Discard(r io.Reader) { _, _ = bufpool.Copy(io.Discard, r) }
