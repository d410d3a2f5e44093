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

// offered are the protocol steps a milter may ask to skip, or not to
// answer, as Postfix's milter8 offers them. libmilter milters
// (clamav-milter) refuse an MTA that does not offer a step they want
// skipped. Protocol version 2 knows only the low seven.
const offered = gomilter.OptNoConnect | gomilter.OptNoHelo | gomilter.OptNoMailFrom | gomilter.OptNoRcptTo |
	gomilter.OptNoBody | gomilter.OptNoHeaders | gomilter.OptNoEOH | gomilter.OptNoUnknown | gomilter.OptNoData |
	gomilter.OptSkip | gomilter.OptNoHeaderReply | gomilter.OptNoConnReply | gomilter.OptNoHeloReply |
	gomilter.OptNoMailReply | gomilter.OptNoRcptReply | gomilter.OptNoDataReply | gomilter.OptNoUnknownReply |
	gomilter.OptNoEOHReply | gomilter.OptNoBodyReply

// dialer dials within the conversation's context and remembers the
// connection, so the end of that context can close it under a blocked
// read.
type dialer struct {
	ctx  context.Context
	d    net.Dialer
	conn net.Conn
	stop func() bool // ends the close-on-done
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

// conv is one conversation with one milter: a connection, negotiated,
// and the events sent on it. The replayed conversation (converse) and
// the live one of an SMTP connection (Conn) both speak through it.
type conv struct {
	m  *milter
	d  *dialer
	s  *gomilter.ClientSession
	v2 bool // the milter speaks protocol version 2, which has no DATA event
}

// open dials the milter and negotiates. The connection lives until ctx
// ends or close is called.
func (m *milter) open(ctx context.Context) (*conv, error) {
	d := &dialer{ctx: ctx, d: net.Dialer{Timeout: m.cfg.ConnectTimeout}}
	c := &conv{m: m, d: d}
	s, err := m.session(d, allActions, offered)
	if errors.Is(err, gomilter.ErrUnsupportedMilterVersion) {
		s, err = m.session(d, v2Actions, offered&0x7f)
		c.v2 = true
	}
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

func (m *milter) session(d *dialer, actions gomilter.OptAction, steps gomilter.OptProtocol) (*gomilter.ClientSession, error) {
	c := gomilter.NewClientWithOptions(m.network, m.addr, gomilter.ClientOptions{
		Dialer: d, ReadTimeout: m.cfg.CommandTimeout, WriteTimeout: m.cfg.CommandTimeout,
		ActionMask: actions, ProtocolMask: steps,
	})
	s, err := c.Session()
	if err != nil {
		d.close()
		d.conn = nil
	}
	return s, err
}

// close says goodbye (SMFIC_QUIT) and closes the connection.
func (c *conv) close() {
	c.s.Close()
	c.d.close()
}

// The SMTP events, each with its macros first.

func (c *conv) connect(msg *message, port uint16) (*gomilter.Action, error) {
	if err := c.m.macros(c.s, gomilter.CodeConn, msg); err != nil {
		return nil, err
	}
	family, addr := clientFamily(msg.env.Client.Addr)
	return c.s.Conn(clientName(msg.env), family, port, addr)
}

func (c *conv) helo(msg *message) (*gomilter.Action, error) {
	if err := c.m.macros(c.s, gomilter.CodeHelo, msg); err != nil {
		return nil, err
	}
	return c.s.Helo(orString(msg.env.Client.Helo, "localhost"))
}

func (c *conv) mail(msg *message, args []string) (*gomilter.Action, error) {
	if err := c.m.macros(c.s, gomilter.CodeMail, msg); err != nil {
		return nil, err
	}
	return c.s.Mail(msg.env.Sender, args)
}

func (c *conv) rcpt(msg *message, args []string) (*gomilter.Action, error) {
	if err := c.m.macros(c.s, gomilter.CodeRcpt, msg); err != nil {
		return nil, err
	}
	return c.s.Rcpt(msg.rcpt, args)
}

// content sends the header and the body and ends the message. The
// Result is the milter's answer to the header (when it was not
// "continue") or to the end of message, with its edits.
func (c *conv) content(msg *message) (*Result, error) {
	r := &Result{Milter: c.m.cfg.Name, Action: "accept"}
	if err := c.m.macros(c.s, gomilter.CodeEOH, msg); err != nil {
		return nil, err
	}
	act, err := c.s.Header(*msg.h)
	if err != nil {
		return nil, err
	}
	if act.Code != gomilter.ActContinue {
		r.Phase = "header"
		fromAction(r, act)
		return r, nil
	}
	if err := c.m.macros(c.s, gomilter.CodeEOB, msg); err != nil {
		return nil, err
	}
	edits, act, err := c.s.BodyReadFrom(bytes.NewReader(msg.body))
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

// converse holds the whole conversation about msg with one milter, within
// its message_timeout, replaying the SMTP phases the message has passed,
// and returns its Result: a failure Result carrying the default action
// when it did not answer properly. It serves mail that had no live
// conversation: local submission.
func (m *milter) converse(ctx context.Context, msg *message) *Result {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.MessageTimeout)
	defer cancel()
	c, err := m.open(ctx)
	if err == nil {
		defer c.d.close()
		var r *Result
		if r, err = c.replay(msg); err == nil {
			c.s.Close()
			return r
		}
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("message_timeout %s exceeded: %w", m.cfg.MessageTimeout, err)
	}
	return failure(m.cfg.Name, m.cfg.DefaultAction, err)
}

// step is one SMTP phase replayed to the milter.
type step struct {
	phase string
	run   func() (*gomilter.Action, error)
}

// replay sends the SMTP phases, then the content. A phase that answers
// other than "continue" ends the conversation with that answer.
func (c *conv) replay(msg *message) (*Result, error) {
	for _, st := range c.steps(msg) {
		act, err := st.run()
		if err != nil {
			return nil, err
		}
		if act.Code != gomilter.ActContinue {
			r := &Result{Milter: c.m.cfg.Name, Phase: st.phase, Rcpt: msg.rcpt}
			fromAction(r, act)
			return r, nil
		}
	}
	return c.content(msg)
}

func (c *conv) steps(msg *message) []step {
	steps := []step{
		{"connect", func() (*gomilter.Action, error) { return c.connect(msg, 0) }},
		{"helo", func() (*gomilter.Action, error) { return c.helo(msg) }},
		{"mail", func() (*gomilter.Action, error) { return c.mail(msg, nil) }},
	}
	for _, rc := range msg.env.Recipients {
		steps = append(steps, step{"rcpt", func() (*gomilter.Action, error) {
			msg.rcpt = rc.Addr
			return c.rcpt(msg, nil)
		}})
	}
	return steps
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
