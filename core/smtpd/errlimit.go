package smtpd

import (
	"bytes"
	"sync/atomic"
	"time"
)

// errCount follows a session's error replies as Postfix's smtpd follows
// its error_count: every 4xx or 5xx reply counts. Past SoftErrorLimit
// each further error reply is paused by ErrorSleepTime
// (smtpd_error_sleep_time), so a client probing addresses or passwords
// gets slow; at HardErrorLimit the error reply is followed by 421 4.7.0
// and the connection closes. Failed AUTH attempts are counted apart,
// each paused, and AuthFailureLimit of them end the session the same
// way: one session can no longer try forty passwords.
//
// Only the session's goroutine writes replies, so the counters need no
// lock; hangup is read by Close's caller too.
type errCount struct {
	errors   int  // 4xx/5xx replies so far
	authFail int  // failed AUTH attempts so far
	paused   bool // the reply being written had its pause already (a failed AUTH)
	// hangup ends the session once the replies queued are written: the
	// next read returns io.EOF, on which go-smtp closes without a reply
	// of its own.
	hangup atomic.Bool
}

// noteReply counts one reply line on its way out and returns what to
// send in its place: the line itself, after a pause past the soft
// limit, and at the hard limit the line followed by the 421.
func (c *conn) noteReply(r []byte) []byte {
	if !isErrorReply(r) || c.errs.hangup.Load() {
		return r
	}
	e := &c.errs
	e.errors++
	if e.errors > c.cfg.SoftErrorLimit && !e.paused {
		c.errorPause()
	}
	e.paused = false
	if e.errors < c.cfg.HardErrorLimit {
		return r
	}
	c.srv.countReject("SESSION", tooManyErrors)
	c.srv.log.Info("too many errors from "+c.client(), "listener", c.listener.Name, "errors", e.errors)
	c.hangUp()
	return append(append([]byte(nil), r...), tooManyErrors.Error()+"\r\n"...)
}

// isErrorReply reports whether r is the last line of a 4xx/5xx reply.
// A 421 is not counted: it is the session's own goodbye.
func isErrorReply(r []byte) bool {
	return len(r) >= 4 && (r[0] == '4' || r[0] == '5') && r[3] == ' ' && !bytes.HasPrefix(r, []byte("421"))
}

// authFailure counts a failed AUTH, pauses, and reports whether the
// session is over the limit (the caller then answers 421).
func (c *conn) authFailure() (over bool) {
	e := &c.errs
	e.authFail++
	c.errorPause()
	e.paused = true
	return e.authFail >= c.cfg.AuthFailureLimit
}

// errorPause sleeps ErrorSleepTime, unless a shutdown asked the
// connection to go. A graceful shutdown waits for at most one pause.
func (c *conn) errorPause() {
	if d := c.cfg.ErrorSleepTime; d > 0 && !c.isKicked() {
		time.Sleep(d)
	}
}

// hangUp ends the session after the replies already queued.
func (c *conn) hangUp() { c.errs.hangup.Store(true) }
