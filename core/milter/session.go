package milter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/queue"
)

// allActions is every edit moonpost honours; it is offered to each milter.
const allActions = gomilter.OptAddHeader | gomilter.OptChangeBody | gomilter.OptAddRcpt |
	gomilter.OptRemoveRcpt | gomilter.OptChangeHeader | gomilter.OptQuarantine | gomilter.OptChangeFrom

// v2Actions is what a milter speaking protocol version 2 can be offered
// (go-milter's own server is one): everything but changing the sender,
// which it may still send and which is honoured.
const v2Actions = allActions &^ gomilter.OptChangeFrom

// dialer dials within the conversation's context and remembers the
// connection, so the message deadline can close it under a blocked read.
type dialer struct {
	ctx  context.Context
	d    net.Dialer
	conn net.Conn
	stop func() bool // ends the close-on-deadline
}

func (d *dialer) Dial(network, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.conn, d.stop = c, context.AfterFunc(d.ctx, func() { c.Close() })
	return c, nil
}

// close releases the connection, if one was made.
func (d *dialer) close() {
	if d.conn != nil {
		d.stop()
		d.conn.Close()
	}
}

// converse holds the whole conversation about msg with one milter, within
// its message_timeout, and returns its Result: a failure Result carrying
// the default action when it did not answer properly.
func (m *milter) converse(ctx context.Context, msg *message) *Result {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.MessageTimeout)
	defer cancel()
	d := &dialer{ctx: ctx, d: net.Dialer{Timeout: m.cfg.ConnectTimeout}}
	s, err := m.session(d, allActions)
	if errors.Is(err, gomilter.ErrUnsupportedMilterVersion) {
		s, err = m.session(d, v2Actions)
	}
	defer d.close()
	if err == nil {
		var r *Result
		if r, err = m.phases(s, msg); err == nil {
			s.Close()
			return r
		}
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("message_timeout %s exceeded: %w", m.cfg.MessageTimeout, err)
	}
	return failure(m.cfg.Name, m.cfg.DefaultAction, err)
}

func (m *milter) session(d *dialer, actions gomilter.OptAction) (*gomilter.ClientSession, error) {
	c := gomilter.NewClientWithOptions(m.network, m.addr, gomilter.ClientOptions{
		Dialer: d, ReadTimeout: m.cfg.CommandTimeout, WriteTimeout: m.cfg.CommandTimeout,
		ActionMask: actions,
	})
	s, err := c.Session()
	if err != nil {
		d.close()
		d.conn = nil
	}
	return s, err
}

// step is one SMTP phase replayed to the milter.
type step struct {
	phase string
	run   func() (*gomilter.Action, error)
}

// phases replays the SMTP phases, then sends the body and ends the
// message. A phase that answers other than "continue" ends the
// conversation with that answer.
func (m *milter) phases(s *gomilter.ClientSession, msg *message) (*Result, error) {
	r := &Result{Milter: m.cfg.Name, Action: "accept"}
	for _, st := range m.steps(s, msg) {
		act, err := st.run()
		if err != nil {
			return nil, err
		}
		if act.Code != gomilter.ActContinue {
			r.Phase = st.phase
			fromAction(r, act)
			return r, nil
		}
	}
	if err := m.macros(s, gomilter.CodeEOB, msg); err != nil {
		return nil, err
	}
	edits, act, err := s.BodyReadFrom(bytes.NewReader(msg.body))
	if err != nil {
		return nil, err
	}
	r.Phase = "eom"
	fromAction(r, act)
	if r.Action == "accept" {
		r.Edits, r.Quarantine = splitQuarantine(edits)
	}
	return r, nil
}

func (m *milter) steps(s *gomilter.ClientSession, msg *message) []step {
	env := msg.env
	steps := []step{
		{"connect", func() (*gomilter.Action, error) {
			if err := m.macros(s, gomilter.CodeConn, msg); err != nil {
				return nil, err
			}
			family, addr := clientFamily(env.Client.Addr)
			return s.Conn(clientName(env), family, 0, addr)
		}},
		{"helo", func() (*gomilter.Action, error) {
			if err := m.macros(s, gomilter.CodeHelo, msg); err != nil {
				return nil, err
			}
			return s.Helo(orString(env.Client.Helo, "localhost"))
		}},
		{"mail", func() (*gomilter.Action, error) {
			if err := m.macros(s, gomilter.CodeMail, msg); err != nil {
				return nil, err
			}
			return s.Mail(env.Sender, nil)
		}},
	}
	for _, rc := range env.Recipients {
		steps = append(steps, step{"rcpt", func() (*gomilter.Action, error) {
			msg.rcpt = rc.Addr
			if err := m.macros(s, gomilter.CodeRcpt, msg); err != nil {
				return nil, err
			}
			return s.Rcpt(rc.Addr, nil)
		}})
	}
	return append(steps, step{"header", func() (*gomilter.Action, error) {
		if err := m.macros(s, gomilter.CodeEOH, msg); err != nil {
			return nil, err
		}
		return s.Header(*msg.h)
	}})
}

func clientFamily(addr string) (gomilter.ProtoFamily, string) {
	ip, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return gomilter.FamilyUnknown, ""
	case ip.Is4() || ip.Is4In6():
		return gomilter.FamilyInet, ip.Unmap().String()
	}
	return gomilter.FamilyInet6, ip.String()
}

func clientName(env *queue.Envelope) string {
	if env.Client.Addr == "" {
		return "localhost"
	}
	return orString(env.Client.Name, "unknown")
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitQuarantine takes the quarantine requests out of the edits.
func splitQuarantine(edits []gomilter.ModifyAction) ([]gomilter.ModifyAction, string) {
	var reason string
	out := edits[:0:0]
	for _, e := range edits {
		if e.Code == gomilter.ActQuarantine {
			reason = orString(e.Reason, "quarantined by milter")
			continue
		}
		out = append(out, e)
	}
	return out, reason
}
