package smtpd

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/dsn"
)

// A refused BDAT transaction. go-smtp calls Data at the first BDAT
// chunk, so a refusal there (the milters' DATA event, and the Lua data
// policy once the header is in) closes its chunk pipe: go-smtp answers
// that chunk with the refusal, drops the chunk and resets the
// transaction. A pipelining client may already have sent more chunks,
// which RFC 3030 says the server must accept and discard; go-smtp, its
// transaction gone, would answer each "503 5.5.1 Error: need RCPT
// command". They are answered here instead, with the refusal itself and
// the chunk dropped, up to and including BDAT LAST: the client that
// takes the last reply as the transaction's sees the same code as the
// one that takes the first, so a 4xx refusal stays a retry (Postfix
// answers those chunks "551 5.0.0 Discarded N bytes after earlier
// error", which turns a tempfail into a 5xx for such a client).
type chunking struct {
	// open is set while the client is inside a BDAT transfer: the last
	// BDAT handed to go-smtp was not LAST and no other command followed.
	// Only the command reader touches it.
	open bool
	// transfer counts the BDAT transfers, at the first chunk of each;
	// Data, which go-smtp starts after that chunk's command line was
	// checked, reads it to tag its reply.
	transfer atomic.Uint64
	// refused is the failed Data's reply. Data (on go-smtp's goroutine
	// for BDAT) stores it before returning, so it is there by the time
	// go-smtp has answered the chunk and reads the next command; the tag
	// keeps a Data that ended late (its transfer cut by RSET) from
	// answering the chunks of a later one.
	refused atomic.Pointer[refusal]
}

// refusal is a Data reply that refused the message, and its transfer.
type refusal struct {
	transfer uint64
	st       *dsn.Status
}

// dataStart is the transfer a Data call belongs to.
func (ch *chunking) dataStart() uint64 { return ch.transfer.Load() }

// dataDone records Data's refusal for the chunks that may follow it,
// unless go-smtp cut the transfer: then go-smtp answered the chunk
// itself (552 for one over the size limit; RSET) and Data's reply, which
// may come late, is nobody's. An older transfer's refusal left here is
// told apart by its tag.
func (ch *chunking) dataDone(transfer uint64, st *dsn.Status, cut bool) {
	if st != nil && !st.OK() && !cut {
		ch.refused.Store(&refusal{transfer: transfer, st: st})
	}
}

// cutReader notes whether go-smtp cut the content off (ErrDataReset).
type cutReader struct {
	r   io.Reader
	cut bool
}

func (c *cutReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if errors.Is(err, smtp.ErrDataReset) {
		c.cut = true
	}
	return n, err
}

// chunkCommand sees each command line's verb before go-smtp. For a
// BDAT after a refused chunk of the same transfer it answers the
// refusal, arms input to drop the chunk, and returns true: go-smtp
// never sees the command.
func (c *conn) chunkCommand(verb, arg string) bool {
	ch := &c.chunks
	if verb != "BDAT" {
		ch.open = false
		return false
	}
	size, last, ok := parseBDAT(arg)
	if !ok {
		return false // go-smtp answers the syntax error
	}
	if !ch.open {
		ch.transfer.Add(1)
	}
	r := ch.refused.Load()
	refused := ch.open && r != nil && r.transfer == ch.transfer.Load()
	ch.open = !last
	// With the session still in its transaction go-smtp has not seen the
	// failure yet (the refusal came after it had handed on the whole
	// previous chunk): it answers this chunk with it itself.
	if !refused || (c.sess != nil && c.sess.mailSeen) {
		return false
	}
	c.in.drop = size
	c.reply(r.st)
	return true
}

// parseBDAT splits "size [LAST]" as go-smtp parses it.
func parseBDAT(arg string) (size int64, last, ok bool) {
	f := strings.Fields(arg)
	if len(f) < 1 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		return 0, false, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, false, false
	}
	return int64(n), len(f) == 2, true
}
