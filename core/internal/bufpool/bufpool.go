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

var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, Size) }}

// Writer lends a bufio.Writer of Size bytes writing to w.
func Writer(w io.Writer) *bufio.Writer {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// PutWriter gives a Writer back, dropping anything not flushed.
func PutWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writers.Put(bw)
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}

// Reader lends a bufio.Reader of 8 KiB reading from r.
func Reader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// PutReader gives a Reader back.
func PutReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}
