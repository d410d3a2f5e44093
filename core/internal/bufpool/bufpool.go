// Package bufpool lends the 32 KiB buffers that message content moves
// through: a session's reads, cleanup's normaliser, the queue writer,
// the relay's copy to the socket. One allocation per message at each of
// those steps would be zeroed, then collected, for every message.
package bufpool

import (
	"bufio"
	"io"
	"sync"
)

// Size is the length of a lent buffer.
const Size = 32 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, Size); return &b }}

// Get lends a buffer of Size bytes; its contents are undefined.
func Get() *[]byte { return bufs.Get().(*[]byte) }

// Put gives a buffer back; the caller must not use it afterwards.
func Put(b *[]byte) { bufs.Put(b) }

// Copy is io.Copy through a lent buffer. It never uses src's WriteTo or
// dst's ReadFrom, which would allocate a buffer of their own when the
// other side has neither.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	b := Get()
	defer Put(b)
	return io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, *b)
}

type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// lender lends values that are reset to a new source or sink (a
// bufio.Writer or bufio.Reader) from a pool.
type lender[T interface{ Reset(S) }, S any] struct{ pool sync.Pool }

func (l *lender[T, S]) lend(to S) T {
	v := l.pool.Get().(T)
	v.Reset(to)
	return v
}

func (l *lender[T, S]) back(v T) {
	var none S
	v.Reset(none) // drop the reference, and anything not flushed
	l.pool.Put(v)
}

var writers = lender[*bufio.Writer, io.Writer]{sync.Pool{New: func() any { return bufio.NewWriterSize(nil, Size) }}}

// Writer lends a bufio.Writer of Size bytes writing to w.
func Writer(w io.Writer) *bufio.Writer { return writers.lend(w) }

// PutWriter gives a Writer back, dropping anything not flushed.
func PutWriter(bw *bufio.Writer) { writers.back(bw) }

var readers = lender[*bufio.Reader, io.Reader]{sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}}

// Reader lends a bufio.Reader of 8 KiB reading from r.
func Reader(r io.Reader) *bufio.Reader { return readers.lend(r) }

// PutReader gives a Reader back.
func PutReader(br *bufio.Reader) { readers.back(br) }
