package smtp

import (
	"fmt"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

// envOutcome is what the envelope's replies decided.
type envOutcome struct {
	accepted []int // recipients the peer took
	dataOK   bool  // DATA was answered with 354
	closing  bool  // the peer said 421: the session is over
}

// envelope sends RSET (on a reused session), MAIL, one RCPT per
// recipient and DATA, and reads their replies in order. With PIPELINING
// (RFC 2920) the commands go out in one write, which against a relay is
// two round trips per message instead of four or more; without it each
// waits for the previous reply, and a refused MAIL or the refusal of
// every recipient ends the transaction before DATA. An error means the
// connection is unusable; nothing was delivered.
func (a *Agent) envelope(s *session, t *tx) (e envOutcome, err error) {
	cmds := a.envelopeCommands(s, t.req)
	pipe := s.has("PIPELINING")
	if pipe {
		for _, c := range cmds {
			s.queue(c)
		}
		if err := s.flush(a.cfg.CommandTimeout); err != nil {
			return e, fmt.Errorf("sending the envelope: %w", err)
		}
	}
	next := 0
	reply := func() (*dsn.Status, error) {
		c := cmds[next]
		next++
		if !pipe {
			if err := s.send(a.cfg.CommandTimeout, c); err != nil {
				return nil, fmt.Errorf("sending %s: %w", verbOf(c), err)
			}
		}
		st, err := s.status(a.cfg.CommandTimeout)
		if err != nil {
			return nil, fmt.Errorf("reply to %s: %w", verbOf(c), err)
		}
		return st, nil
	}
	if s.used {
		if st, err := reply(); err != nil || !st.OK() {
			return e, fmt.Errorf("RSET: %v", orStatus(err, st))
		}
	}
	s.used = true
	return a.envelopeReplies(s, t, pipe, reply)
}

// envelopeReplies reads MAIL's, each RCPT's and DATA's reply through
// reply, filling t for the recipients they decide.
func (a *Agent) envelopeReplies(s *session, t *tx, pipe bool, reply func() (*dsn.Status, error)) (e envOutcome, err error) {
	mail, err := reply()
	if err != nil {
		return e, err
	}
	if !mail.OK() && !pipe {
		t.fill(mail, s.relay)
		e.closing = mail.Code == 421
		return e, nil
	}
	for i := range t.req.Recipients {
		st, err := reply()
		if err != nil {
			return e, err
		}
		switch {
		case !mail.OK():
			t.res[i] = deliver.Result{Status: mail, Relay: s.relay}
		case st.OK():
			e.accepted = append(e.accepted, i)
		default:
			t.res[i] = deliver.Result{Status: st, Relay: s.relay}
		}
		if st.Code == 421 && !pipe { // the peer hangs up: the rest waits
			t.set(e.accepted, st, s.relay)
			t.set(indexes(i+1, len(t.res)), st, s.relay)
			e.closing = true
			return e, nil
		}
	}
	if len(e.accepted) == 0 && !pipe {
		return e, nil
	}
	data, err := reply()
	if err != nil {
		return e, err
	}
	if data.Code != 354 {
		t.set(e.accepted, data, s.relay)
		e.closing = mail.Code == 421 || data.Code == 421
		return e, nil
	}
	e.dataOK = true
	return e, nil
}

// envelopeCommands lists RSET (on a reused session), MAIL, the RCPTs
// and DATA.
func (a *Agent) envelopeCommands(s *session, req *deliver.Request) []string {
	cmds := make([]string, 0, len(req.Recipients)+3)
	if s.used {
		cmds = append(cmds, "RSET")
	}
	cmds = append(cmds, "MAIL FROM:<"+req.Sender+">"+a.mailParams(s, req))
	for _, r := range req.Recipients {
		cmds = append(cmds, "RCPT TO:<"+r.Addr+">"+rcptParams(s, r))
	}
	return append(cmds, "DATA")
}

func verbOf(cmd string) string {
	v, _, _ := strings.Cut(cmd, ":")
	v, _, _ = strings.Cut(v, " ")
	return v
}

func orStatus(err error, st *dsn.Status) error {
	if err != nil {
		return err
	}
	return st
}

func indexes(from, to int) []int {
	idx := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		idx = append(idx, i)
	}
	return idx
}
