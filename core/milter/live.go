package milter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Conn is one SMTP connection's live conversation with the milters
// whose applies_to has "smtpd", as Postfix's smtpd holds its
// smtpd_milters: connect when the client connects, HELO at each
// greeting, MAIL, each RCPT and DATA as the client sends them; the
// header, the body and the end of message then run in cleanup (Filter,
// through the context Message returns). Each event goes to the milters
// in order and the first refusal is the answer to the command.
//
// What a milter's answer does, as in Postfix's milter8 client:
//   - continue: the next milter, the next event;
//   - accept at connect or HELO: the milter is done for the connection;
//     at MAIL, RCPT or DATA: done for the message (none of its edits);
//   - reject, tempfail, a custom reply at connect or HELO: that reply is
//     kept and answers every later event of the connection (smtpd answers
//     it at MAIL); at MAIL, RCPT or DATA it answers that command only
//     (at RCPT: that recipient only);
//   - discard at MAIL, RCPT or DATA: the message is accepted and dropped
//     (at connect or HELO it is not allowed and means continue);
//   - a failure (down, slow, broken) at any event: the milter is closed
//     and its default_action stands for the rest of the connection,
//     tempfail and reject answering every later event.
//
// The Judge (the Lua "milter" event) sees every answer that is not
// "continue", with the envelope so far and an empty header, and may
// change it before it takes effect; a hold it gives applies to the
// message. Conn's methods are called from the SMTP session's goroutine;
// a mutex also orders them against a BDAT transfer's content phase.
type Conn struct {
	f      *Filter
	mu     sync.Mutex
	client queue.Client
	port   uint16
	ms     []*live
	cancel context.CancelFunc // ends every milter connection
	// The message, cleared by Reset.
	hold    string                  // a quarantine given at an SMTP phase
	discard bool                    // the message is to be dropped
	edits   []gomilter.ModifyAction // header fields a Judge added at an SMTP phase
}

// live is one milter's part of a Conn.
type live struct {
	m     *milter
	c     *conv // nil once closed
	state liveState
	// reply answers every later event once the milter is done with a
	// refusal (at connect or HELO, or its failure's default action).
	reply *dsn.Status
	// failed is why the milter failed, "" while it has not.
	failed  string
	inMsg   bool  // MAIL was sent and the message not ended
	openErr error // why the connection could not be made
}

type liveState int

const (
	running     liveState = iota
	skipMessage           // accepted or discarded this message: nothing more until the next
	done                  // nothing more this connection
)

// Open starts the live conversation of an SMTP connection with the
// milters that apply to mail from the network; nil when there are none.
// client is what is known at connect (address, name, listener proto).
func (f *Filter) Open(client queue.Client, port uint16) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{f: f, client: client, port: port, cancel: cancel}
	for _, m := range f.milters {
		if m.cfg.Smtpd {
			c.ms = append(c.ms, &live{m: m})
		}
	}
	if len(c.ms) == 0 {
		cancel()
		return nil
	}
	for _, l := range c.ms {
		l.c, l.openErr = l.m.open(ctx) // a failure is the connect event's

	}
	return c
}

// Close ends the conversation: SMFIC_QUIT to each milter still there.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.ms {
		l.close()
	}
	c.cancel()
}

func (l *live) close() {
	if l.c != nil {
		l.c.close()
		l.c = nil
	}
}

// Connect reports the connection. A refusal is kept: every later event
// answers it.
func (c *Conn) Connect(ctx context.Context) *dsn.Status {
	env := &queue.Envelope{Client: c.client}
	return c.event(ctx, "connect", &message{env: env}, func(cv *conv, msg *message) (*gomilter.Action, error) {
		return cv.connect(msg, c.port)
	})
}

// Helo reports a greeting. Its refusals are kept as Connect's are.
func (c *Conn) Helo(ctx context.Context, helo string) *dsn.Status {
	c.client.Helo = helo
	env := &queue.Envelope{Client: c.client}
	return c.event(ctx, "helo", &message{env: env}, func(cv *conv, msg *message) (*gomilter.Action, error) {
		return cv.helo(msg)
	})
}

// Mail reports MAIL FROM with its ESMTP arguments ("SIZE=1000"); env is
// the transaction so far. A refusal ends the transaction for every
// milter.
func (c *Conn) Mail(ctx context.Context, env *queue.Envelope, args []string) *dsn.Status {
	c.client = env.Client
	st := c.event(ctx, "mail", &message{env: env}, func(cv *conv, msg *message) (*gomilter.Action, error) {
		return cv.mail(msg, args)
	})
	if st != nil {
		c.Reset()
	}
	return st
}

// Rcpt reports one RCPT TO that smtpd would accept; a refusal refuses
// that recipient.
func (c *Conn) Rcpt(ctx context.Context, env *queue.Envelope, rcpt string, args []string) *dsn.Status {
	return c.event(ctx, "rcpt", &message{env: env, rcpt: rcpt}, func(cv *conv, msg *message) (*gomilter.Action, error) {
		return cv.rcpt(msg, args)
	})
}

// Data reports the DATA command (or the first BDAT).
func (c *Conn) Data(ctx context.Context, env *queue.Envelope) *dsn.Status {
	return c.event(ctx, "data", &message{env: env}, func(cv *conv, msg *message) (*gomilter.Action, error) {
		return cv.data(msg)
	})
}

// Reset ends the transaction: the milters that saw its MAIL and not its
// end are told to abort it. smtpd calls it after each message, at RSET
// and at a new greeting.
func (c *Conn) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endMessage()
}

// endMessage aborts what is open and clears the message's state.
func (c *Conn) endMessage() {
	for _, l := range c.ms {
		if l.inMsg && l.c != nil {
			if err := l.c.s.Abort(); err != nil {
				c.fail(l, "abort", err)
			}
		}
		l.inMsg = false
		if l.state == skipMessage {
			l.state = running
		}
	}
	c.hold, c.discard, c.edits = "", false, nil
}

// send is one event's call on one milter's conversation.
type send func(*conv, *message) (*gomilter.Action, error)

// event sends one SMTP phase to each milter in turn and returns the
// first refusal.
func (c *Conn) event(ctx context.Context, phase string, msg *message, fn send) *dsn.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg.hostname = c.f.Hostname
	if c.discard {
		return nil // Postfix skips the milters for a discarded message
	}
	for _, l := range c.ms {
		if st := c.one(ctx, l, phase, msg, fn); st != nil {
			return st
		}
	}
	return nil
}

// one is one event for one milter.
func (c *Conn) one(ctx context.Context, l *live, phase string, msg *message, fn send) *dsn.Status {
	switch l.state {
	case done:
		return l.reply
	case skipMessage:
		return nil
	}
	if l.c == nil {
		return c.failure(ctx, l, phase, msg, l.openErr)
	}
	if phase == "mail" {
		l.inMsg = true
	}
	act, err := fn(l.c, msg)
	if err != nil {
		return c.failure(ctx, l, phase, msg, err)
	}
	if act.Code == gomilter.ActContinue || act.Code == gomilter.ActSkip {
		return nil
	}
	r := &Result{Milter: l.m.cfg.Name, Phase: phase, Rcpt: msg.rcpt}
	fromAction(r, act)
	if r.Action == "discard" && connLevel(phase) {
		return nil // not allowed there (Postfix warns and goes on)
	}
	told := r.Action
	if st := c.judge(ctx, r, msg); st != nil {
		return st
	}
	return c.settle(l, r, told)
}

// connLevel reports whether phase is one of the connection, not of a
// message.
func connLevel(phase string) bool { return phase == "connect" || phase == "helo" }

// judge runs the Judge over an SMTP-phase answer and logs the outcome;
// a Judge that fails makes the command fail temporarily.
func (c *Conn) judge(ctx context.Context, r *Result, msg *message) *dsn.Status {
	if j := c.f.Judge; j != nil {
		var h textproto.Header
		if err := j.Judge(ctx, r, msg.env, &h); err != nil {
			if c.f.Log != nil {
				c.f.Log.Error(fmt.Sprintf("NOQUEUE: milter %s: judge at %s: %v", r.Milter, r.Phase, err))
			}
			return dsn.TempPolicy
		}
	}
	c.f.logResult(msg.env, r)
	return nil
}

// settle applies a judged answer. told is what the milter said, before
// the Judge: a milter that refused MAIL or the connection has ended that
// conversation even when the Judge overrides it.
func (c *Conn) settle(l *live, r *Result, told string) *dsn.Status {
	switch r.Action {
	case "reject", "tempfail":
		st := refusal(r)
		if connLevel(r.Phase) {
			l.state, l.reply = done, st
			l.close()
		}
		return st
	case "discard":
		c.discard = true
		return nil
	}
	if r.Quarantine != "" {
		c.hold = "milter " + r.Milter + ": " + r.Quarantine
	}
	c.edits = append(c.edits, r.Edits...)
	switch {
	case connLevel(r.Phase):
		l.state = done
		l.close()
	case r.Phase != "rcpt" || told == "accept":
		l.state = skipMessage
	}
	return nil
}

// failure handles a milter that failed at an SMTP phase: its default
// action, judged, stands for the rest of the connection.
func (c *Conn) failure(ctx context.Context, l *live, phase string, msg *message, err error) *dsn.Status {
	c.fail(l, phase, err)
	r := failure(l.m.cfg.Name, l.m.cfg.DefaultAction, err)
	r.Phase, r.Rcpt = phase, msg.rcpt
	if st := c.judge(ctx, r, msg); st != nil {
		return st
	}
	l.reply = nil
	if r.Action == "reject" || r.Action == "tempfail" {
		l.reply = refusal(r)
		return l.reply
	}
	if r.Quarantine != "" {
		c.hold = "milter " + r.Milter + ": " + r.Quarantine
	}
	if r.Action == "discard" && !connLevel(phase) {
		c.discard = true
	}
	return nil
}

// fail closes a milter that failed; nothing more is sent to it, and
// its default action answers every later event.
func (c *Conn) fail(l *live, phase string, err error) {
	l.state, l.failed, l.inMsg = done, fmt.Sprintf("%s: %v", phase, err), false
	l.reply = nil
	if r := failure(l.m.cfg.Name, l.m.cfg.DefaultAction, err); r.Action != "accept" {
		l.reply = refusal(r)
	}
	l.close()
}

type liveKey struct{}

// Message returns ctx carrying the conversation, for the Submit of the
// message it is about: cleanup's Filter finishes it there.
func (c *Conn) Message(ctx context.Context) context.Context {
	return context.WithValue(ctx, liveKey{}, c)
}

func liveConn(ctx context.Context) *Conn {
	c, _ := ctx.Value(liveKey{}).(*Conn)
	return c
}

// content is the message's content phase on the live conversation: each
// milter still in it gets the header, the body and the end of message
// within its message_timeout; a milter that failed earlier in the
// connection gets its default action again, judged for this message.
func (c *Conn) content(ctx context.Context, msg *message) (policy.Verdict, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.endMessage()
	verdict := policy.Verdict{Action: policy.Accept}
	if c.discard {
		return policy.Verdict{Action: policy.Discard, Reason: "milter discard"}, nil
	}
	if err := apply(msg, c.edits); err != nil {
		return verdict, err
	}
	if c.hold != "" {
		verdict = policy.Verdict{Action: policy.Hold, Reason: c.hold}
	}
	for _, l := range c.ms {
		r := c.contentOf(l, msg)
		if r == nil {
			continue
		}
		if final, err := c.f.take(ctx, r, msg, &verdict); final || err != nil {
			return verdict, err
		}
	}
	return verdict, nil
}

// contentOf is one milter's answer about the content, nil when it has
// no say in this message.
func (c *Conn) contentOf(l *live, msg *message) *Result {
	switch {
	case l.state == done && l.failed != "":
		return failure(l.m.cfg.Name, l.m.cfg.DefaultAction, fmt.Errorf("%s", l.failed))
	case l.state != running:
		return nil
	}
	conn := l.c.d.conn
	t := time.AfterFunc(l.m.cfg.MessageTimeout, func() { conn.Close() })
	r, err := l.c.content(msg)
	expired := !t.Stop()
	if err == nil {
		l.inMsg = false
		return r
	}
	if expired {
		err = fmt.Errorf("message_timeout %s exceeded: %w", l.m.cfg.MessageTimeout, err)
	}
	c.fail(l, "content", err)
	r = failure(l.m.cfg.Name, l.m.cfg.DefaultAction, err)
	r.Phase = "eom"
	return r
}
