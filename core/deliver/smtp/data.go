package smtp

import (
	"time"

	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// data sends the content (folded, dot-stuffed) and gives the reply
// after the final dot to the accepted recipients: one reply for all of
// them in SMTP, one each in LMTP (RFC 2033 4.2). A connection lost
// after the dot defers, marked unsure: the message may have been
// delivered, and a duplicate beats a loss. It reports whether the
// session may be reused.
func (a *Agent) data(s *session, t *tx, accepted []int) bool {
	_ = s.conn.SetWriteDeadline(time.Now().Add(a.cfg.DataTimeout))
	dw := &dotWriter{w: s.w}
	fw := foldLines(dw, a.cfg.LineLengthLimit)
	_, err := bufpool.Copy(fw, t.req.Content.Open())
	if err == nil {
		err = flushFolder(fw)
	}
	if err == nil {
		err = dw.Close()
	}
	if err != nil {
		t.set(accepted, ioStatus(s.relay, "sending message body", err), s.relay)
		return false
	}
	per := accepted[:1] // SMTP: one reply for all
	if a.cfg.LMTP {
		per = accepted
	}
	reusable := true
	for k, i := range per {
		st, err := s.status(a.cfg.DataTimeout)
		if err != nil {
			rest := accepted[k:]
			t.set(rest, ioStatus(s.relay, "sending end of data", err), s.relay)
			for _, j := range rest {
				t.unsure[j] = true
			}
			return false
		}
		if a.cfg.LMTP {
			t.set([]int{i}, st, s.relay)
		} else {
			t.set(accepted, st, s.relay)
		}
		reusable = reusable && st.Code != 421
	}
	return reusable
}

// endEmptyData ends a DATA the peer accepted with nothing to send.
func (a *Agent) endEmptyData(s *session) bool {
	if s.send(a.cfg.CommandTimeout, ".") != nil || a.cfg.LMTP {
		return false // LMTP has no reply to give for no recipient
	}
	_, _, err := s.reply(a.cfg.DataTimeout)
	return err == nil
}
