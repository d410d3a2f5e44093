package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Data queues the message. The 250 reply, carrying the queue ID, is sent
// only when Submit returned nil, i.e. the queue file is on disk. A
// refusal is kept for the BDAT chunks that may follow it (bdat.go).
func (s *session) Data(r io.Reader) error {
	s.inData.Lock()
	defer s.inData.Unlock()
	transfer := s.c.chunks.dataStart()
	cut := &cutReader{r: r}
	st := s.data(cut)
	s.c.chunks.dataDone(transfer, st, cut.cut)
	return st.SMTPError()
}

func (s *session) data(r io.Reader) *dsn.Status {
	s.c.counts.data.Add(1)
	now := s.c.cfg.Now()
	env := s.envelope(now)
	defer s.logPanic(env.ID)
	s.srv.log.Info(string(env.ID)+": client="+s.c.client()+s.saslLog(), "listener", s.l.Name)

	r, done := s.c.content(r)
	defer done()
	if st := s.c.milterData(); st != nil { // BDAT: DATA was never said
		return st
	}
	cr := &countingReader{r: r}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.SessionTimeout)
	defer cancel()
	if s.c.cfg.Flow != nil {
		s.c.cfg.Flow.Wait(ctx)
	}
	if s.c.milters != nil {
		ctx = s.c.milters.Message(ctx) // cleanup finishes the conversation
	}
	received := strings.NewReader(s.receivedHeader(env, now))
	id, err := s.c.cfg.Submitter.SubmitSMTP(ctx, env, io.MultiReader(received, cr), s.dataCheck(env))
	if id == "" {
		id = env.ID
	}
	return s.outcome(id, env, cr, err)
}

// outcome decides the DATA reply. A read error trumps whatever Submit
// said: a message that did not arrive whole is never acknowledged.
func (s *session) outcome(id queue.ID, env *queue.Envelope, cr *countingReader, err error) *dsn.Status {
	switch {
	case errors.Is(cr.err, smtp.ErrDataTooLarge):
		s.srv.countReject("DATA", dsn.MessageTooBig)
		s.srv.log.Info(fmt.Sprintf("%s: reject: DATA from %s: %s; size exceeds %d", id, s.c.client(), dsn.MessageTooBig.Error(), s.c.cfg.MaxMessageBytes))
		return dsn.MessageTooBig
	case isTimeout(cr.err):
		// The client went quiet mid-message: say so, and end the session
		// rather than read its next bytes as commands.
		s.srv.log.Info(fmt.Sprintf("%s: timeout after DATA from %s", id, s.c.client()))
		s.c.expire()
		return dsn.IdleTimeout
	case cr.err != nil && cr.err != io.EOF:
		s.srv.log.Warn(fmt.Sprintf("%s: lost message content from %s: %v", id, s.c.client(), cr.err))
		if errors.Is(cr.err, smtp.ErrTooLongLine) {
			return dsn.LineTooLong
		}
		return dsn.TempLocal
	case err != nil:
		st := dsn.FromError(err)
		s.srv.countReject("DATA", st)
		line := fmt.Sprintf("%s: reject: DATA from %s: %s; from=<%s> proto=%s", id, s.c.client(), st.Error(), env.Sender, s.proto())
		if s.decided > 0 {
			line += fmt.Sprintf(" generation=%d", s.decided) // the scripts that decided
			s.decided = 0
		}
		s.srv.log.Info(line, "err", err)
		if st.Code == 421 {
			s.c.expire() // a milter's 421: the session ends after the reply
		}
		return st
	case cr.err != io.EOF:
		// Submit said yes without reading to the end: a cleanup bug that
		// truncated the message. It is committed; say so loudly.
		s.srv.log.Error(string(id) + ": submitter returned before the end of the message")
	}
	if s.srv.log.Enabled(context.Background(), slog.LevelInfo) {
		s.srv.log.Info(fmt.Sprintf("%s: from=<%s>, size=%d, nrcpt=%d (queued)", id, env.Sender, cr.n, len(env.Recipients)))
	}
	return dsn.Queued.WithText("Ok: queued as " + string(id))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// logPanic records which message a panic hit, then lets it continue to
// go-smtp, which answers 421 (rewritten to 421 4.3.0), closes the
// connection and logs the stack; the server keeps serving.
func (s *session) logPanic(id queue.ID) {
	if v := recover(); v != nil {
		s.srv.log.Error(fmt.Sprintf("%s: panic while receiving from %s: %v", id, s.c.client(), v))
		panic(v)
	}
}

// envelope builds the queue envelope of the current transaction.
func (s *session) envelope(now time.Time) *queue.Envelope {
	o := s.mailOpts
	return &queue.Envelope{
		ID:         queue.NewID(now),
		Arrival:    now,
		Sender:     s.from,
		Recipients: append([]queue.Recipient(nil), s.rcpts...),
		Client:     s.queueClient(),
		EnvID:      o.EnvelopeID, Ret: string(o.Return), BodyType: string(o.Body), SMTPUTF8: o.UTF8,
		Meta: queue.CloneMeta(s.c.meta), Tenant: s.c.tenant,
	}
}

// receivedHeader formats the trace header as Postfix does; "for" names
// the recipient only when there is exactly one, so a Bcc stays private.
func (s *session) receivedHeader(env *queue.Envelope, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s (%s [%s])\r\n", env.Client.Helo, env.Client.Name, env.Client.Addr)
	fmt.Fprintf(&b, "\tby %s (moonpost) with %s id %s", s.c.cfg.Hostname, env.Client.Proto, env.ID)
	if len(env.Recipients) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", env.Recipients[0].Addr)
	}
	fmt.Fprintf(&b, "; %s\r\n", now.Format("Mon, 2 Jan 2006 15:04:05 -0700 (MST)"))
	return b.String()
}

// dataCheck is the DATA policy cleanup runs once the message is whole
// and checked, or nil when the policy has no DATA handler. It runs on
// this session's goroutine, inside Submit. The message takes the
// session's metadata and tenant as the handlers leave them.
func (s *session) dataCheck(env *queue.Envelope) policy.DataCheck {
	if p, ok := s.c.cfg.Policy.(policy.Selective); ok && !p.Handles("data") {
		return nil
	}
	return func(ctx context.Context, h *textproto.Header, auth *policy.AuthResults) *dsn.Status {
		ctx, cancel := context.WithTimeout(ctx, s.c.cfg.PolicyTimeout)
		defer cancel()
		ps := s.policySession()
		st, err := s.c.cfg.Policy.Data(ctx, ps, h, auth)
		if rej := s.verdict("DATA", st, err); rej != nil {
			s.decided = ps.Generation
			return rej
		}
		env.Meta, env.Tenant = queue.CloneMeta(s.c.meta), s.c.tenant
		return nil
	}
}

// countingReader counts bytes and remembers the first error, so the DATA
// outcome knows whether the message arrived whole.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// saslLog adds Postfix's sasl fields to the client= line.
func (s *session) saslLog() string {
	if s.authUser == "" {
		return ""
	}
	return ", sasl_username=" + sanitize(s.authUser)
}
