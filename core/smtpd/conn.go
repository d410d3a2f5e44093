package smtpd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// conn wraps every accepted socket, under TLS when TLS is used. It owns
// what go-smtp does not do for us:
//
//   - deadlines: each Read gets min(now+IdleTimeout, session end), so a
//     slow DATA transfer is bounded per read like Postfix's smtpd_timeout
//     (go-smtp would only set one deadline per command line), and the
//     whole session is bounded too. go-smtp turns the timeout into a 421;
//   - shutdown: kick() expires the read deadline so go-smtp, blocked in a
//     read, gives up and closes;
//   - reply codes: go-smtp's own protocol replies are rewritten to ours
//     (see replies.go);
//   - reply batching: replies are collected and written when go-smtp next
//     reads, as Postfix's smtpd flushes its output only when it needs
//     input. A pipelined MAIL/RCPT/DATA group, or a multi-line EHLO
//     reply, then leaves in one write instead of one per line;
//   - accounting: Close releases the connection slot exactly once.
type conn struct {
	net.Conn
	srv      *Server
	cfg      *Config // the server's settings when the connection came; never changed
	listener *Listener
	ip       netip.Addr
	id       string // session ID for policy and logs, unique per process
	name     string // client host name for logs and Received: ("unknown": no reverse DNS yet)
	start    time.Time
	// meta is the policy's metadata for the connection (Lua s:set_meta),
	// shared with every policy.Session of it and copied into each
	// message it queues. Only the session's goroutine touches it.
	meta map[string]string
	// tenant is the policy's tenant for the connection (Lua
	// s:set_tenant), inherited by each message it queues; "" for none.
	tenant string

	mu     sync.Mutex // guards kicked and readStart against concurrent deadline setting
	kicked bool       // shutdown asked this connection to go
	// readStart is when the last read from the socket began, so that
	// stress mode can shorten the deadline of a read in progress.
	readStart time.Time
	// shed is set when stress mode closes this idle connection to make
	// room for a new client (see stress.go); guarded by srv.mu for the
	// count of shed connections, atomic for the reply rewriter.
	shed atomic.Bool
	// expired is set when the session was ended with a 421 already sent
	// (a timeout inside DATA): go-smtp's own timeout reply that follows
	// is then suppressed.
	expired  atomic.Bool
	deadline time.Time // end of the session

	// busy is set between MAIL and the end of the transaction, so a
	// graceful shutdown lets it finish.
	busy atomic.Bool
	// ehlo records whether the last greeting was EHLO (seen in our reply),
	// because go-smtp does not tell the session HELO from EHLO.
	ehlo atomic.Bool

	// milters is the connection's milter conversation, opened at the
	// banner (milter.go); nil without milters. sess is the go-smtp
	// session, once the client greeted. Both are the session
	// goroutine's.
	milters    MilterConn
	sess       *session
	bannerDone bool // the first reply, the banner, went out

	counts    counts
	errs      errCount // error replies and failed AUTH (errlimit.go)
	closeOnce sync.Once
	in        input    // command lines checked before go-smtp reads them (input.go)
	chunks    chunking // the chunks after a refused one of a BDAT transfer (bdat.go)
	tl        tlsState // TLS, run here rather than in go-smtp (tls.go)

	outMu sync.Mutex // guards out: Close may come from another goroutine
	out   []byte     // replies not yet written; see flush

	// For content read by the session (see content); all used only by
	// the session's goroutine.
	last   byte   // the last byte Read gave go-smtp
	divert bool   // the next Read that would block returns errDivert
	pend   []byte // the end-of-data line for go-smtp's DATA reader, alone
}

// maxPending bounds the replies held back; more are written at once.
const maxPending = 4096

// closeFlushTimeout bounds the write of the last replies at Close.
const closeFlushTimeout = 5 * time.Second

// counts tallies commands for the disconnect log line.
type counts struct {
	helo, mail, rcpt, data, auth atomic.Int32
}

// String formats the tally as Postfix does: "ehlo=1 mail=1 ... commands=N".
func (k *counts) String() string {
	var b strings.Builder
	total := int32(0)
	for _, f := range []struct {
		name string
		n    *atomic.Int32
	}{{"helo", &k.helo}, {"auth", &k.auth}, {"mail", &k.mail}, {"rcpt", &k.rcpt}, {"data", &k.data}} {
		if n := f.n.Load(); n > 0 {
			fmt.Fprintf(&b, " %s=%d", f.name, n)
			total += n
		}
	}
	fmt.Fprintf(&b, " commands=%d", total)
	return b.String()
}

func (c *conn) Read(b []byte) (int, error) {
	if len(c.pend) > 0 {
		// Given alone: go-smtp's DATA reader stops right after it, and
		// what follows is read, and guarded, as commands.
		n := copy(b, c.pend)
		c.pend = c.pend[n:]
		c.last = b[n-1]
		return n, nil
	}
	n, err := c.in.read(c, b)
	if n > 0 {
		c.last = b[n-1]
	}
	return n, err
}

// readRaw reads from the connection, after writing the replies held
// back, under the idle and session deadlines. With the divert armed it
// returns errDivert instead, once.
func (c *conn) readRaw(b []byte) (int, error) {
	// The client may be waiting for what we have to say before it sends
	// more: write it before blocking on input.
	if err := c.flush(c.srv.idleTimeout()); err != nil {
		return 0, err
	}
	if c.expired.Load() {
		// The session was ended and its 421 has just been written: go-smtp
		// closes on EOF without a reply of its own, also under TLS where
		// Write sees only ciphertext and could not drop a second 421.
		return 0, io.EOF
	}
	if c.divert {
		c.divert = false
		return 0, errDivert
	}
	if c.errs.hangup.Load() {
		return 0, io.EOF // go-smtp closes quietly
	}
	c.mu.Lock()
	// Real time, not cfg.Now: deadlines are the kernel's business.
	c.readStart = time.Now()
	err := c.Conn.SetReadDeadline(c.readDeadline(c.readStart))
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	t, err := c.transport()
	if err != nil {
		return 0, err
	}
	return t.Read(b)
}

// SetReadDeadline is ignored: Read owns the deadline (go-smtp sets its
// own only when ReadTimeout is non-zero, and we leave it zero).
func (c *conn) SetReadDeadline(time.Time) error { return nil }

// Write queues b, one reply line from go-smtp (or a TLS record), to be
// written by the next Read, by Close, or at once when maxPending is
// exceeded.
func (c *conn) Write(b []byte) (int, error) {
	n := len(b)
	if !c.bannerDone {
		c.bannerDone = true
		if st := c.bannerRefusal(); st != nil { // clientrate.go
			b = []byte(st.Error() + "\r\n")
		} else {
			b = c.milterBanner(b)
		}
	}
	c.in.reply(b)
	r := b
	if rw := c.srv.rewriteReply(c, b); rw != nil {
		r = rw
	}
	r = c.noteReply(r)
	c.outMu.Lock()
	c.out = append(c.out, r...)
	full := len(c.out) > maxPending
	c.outMu.Unlock()
	if full {
		if err := c.flush(c.srv.idleTimeout()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// flush writes the queued replies, waiting at most timeout for a client
// that does not read.
func (c *conn) flush(timeout time.Duration) error {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if len(c.out) == 0 {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	t, err := c.transport()
	if err == nil {
		_, err = t.Write(c.out)
	}
	if cap(c.out) > 4*maxPending {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// kick makes a blocked or future Read fail with a timeout.
func (c *conn) kick() {
	c.mu.Lock()
	c.kicked = true
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

// expire ends the session: the next Read fails at once with a timeout.
func (c *conn) expire() {
	c.expired.Store(true)
	c.mu.Lock()
	c.deadline = time.Unix(1, 0)
	c.mu.Unlock()
}

func (c *conn) isKicked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kicked
}

func (c *conn) Close() error {
	// A last reply (221, 421) goes out before the close, but a client
	// that does not read does not hold the close up for long.
	_ = c.flush(closeFlushTimeout)
	if c.in.tooLong.Load() {
		c.drainInput()
	}
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		if c.milters != nil {
			c.milters.Close()
		}
		c.srv.release(c)
		if c.srv.log.Enabled(context.Background(), slog.LevelInfo) {
			c.logDisconnect()
		}
	})
	return err
}

// client formats "name[ip]" as Postfix logs it.
func (c *conn) client() string {
	return c.name + "[" + c.ip.String() + "]"
}

func (c *conn) logDisconnect() {
	c.srv.log.Info("disconnect from "+c.client()+c.counts.String(),
		"listener", c.listener.Name, "duration", time.Since(c.start).Round(time.Millisecond))
}
