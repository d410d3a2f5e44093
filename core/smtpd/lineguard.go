package smtpd

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// lineGuard enforces the command line length limit on what the client
// sends, but not on message content. go-smtp's own limit covers DATA
// lines too and ends the session on a long one, where Postfix accepts
// message lines of any length (the message size limit bounds them); so
// go-smtp's limit is switched off and this guard, fed every byte read,
// counts only outside DATA and BDAT chunks.
type lineGuard struct {
	limit   int
	lineLen int
	head    []byte // start of the current line, to spot "BDAT n"
	skip    int64  // BDAT chunk bytes still to pass uncounted
	// data is set when the 354 reply went out and cleared by the next
	// reply: the bytes in between are message content.
	data atomic.Bool
}

const headLen = 32

// scan checks bytes just read; it returns smtp.ErrTooLongLine, which
// go-smtp answers with its line-too-long reply, once a command line is
// over the limit.
func (g *lineGuard) scan(b []byte) error {
	if g.limit <= 0 {
		return nil
	}
	for i := 0; i < len(b); i++ {
		if g.skip > 0 {
			n := min(g.skip, int64(len(b)-i))
			g.skip -= n
			i += int(n) - 1
			continue
		}
		if g.data.Load() {
			return nil // content until the next reply
		}
		if err := g.byte(b[i]); err != nil {
			return err
		}
	}
	return nil
}

func (g *lineGuard) byte(c byte) error {
	if c == '\n' {
		g.endLine()
		return nil
	}
	g.lineLen++
	if len(g.head) < headLen {
		g.head = append(g.head, c)
	}
	if g.lineLen > g.limit {
		return smtp.ErrTooLongLine
	}
	return nil
}

// endLine notes a BDAT command: its chunk follows right after the line.
func (g *lineGuard) endLine() {
	f := strings.Fields(string(g.head))
	if len(f) >= 2 && strings.EqualFold(f[0], "BDAT") {
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil && n > 0 {
			g.skip = n
		}
	}
	g.lineLen, g.head = 0, g.head[:0]
}

// reply tells the guard which reply went out.
func (g *lineGuard) reply(b []byte) {
	g.data.Store(len(b) >= 4 && string(b[:4]) == "354 ")
}
