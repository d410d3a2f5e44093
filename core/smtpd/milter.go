package smtpd

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

// Milters are the content filters smtpd talks to during the SMTP
// conversation, as Postfix's smtpd_milters (core/milter implements it).
type Milters interface {
	// Open starts the conversation of a new connection, dialling the
	// milters (each within its own connect timeout); nil when no milter
	// applies to mail from the network.
	Open(client queue.Client, port uint16) MilterConn
}

// MilterConn is one connection's conversation with the milters. Each
// event returns the reply to give, or nil to go on; the implementation
// bounds each call by its own timeouts and answers for a milter that is
// down by that milter's default action. Calls come in SMTP order from
// the session: Connect once, before the banner; Helo at each greeting;
// per transaction Mail, Rcpt for each recipient smtpd would accept,
// Data; Message binds the content phase to the context Submit gets (the
// header, body and end of message then run in cleanup); Reset ends a
// transaction (after the message, at RSET, at a new greeting); Close
// ends the conversation. env is the transaction so far (no queue ID).
type MilterConn interface {
	Connect(ctx context.Context) *dsn.Status
	Helo(ctx context.Context, helo string) *dsn.Status
	Mail(ctx context.Context, env *queue.Envelope, args []string) *dsn.Status
	Rcpt(ctx context.Context, env *queue.Envelope, rcpt string, args []string) *dsn.Status
	Data(ctx context.Context, env *queue.Envelope) *dsn.Status
	Message(ctx context.Context) context.Context
	Reset()
	Close()
}

// milterBanner opens the milter conversation when the banner is about to
// go out and says which banner to send, as Postfix's smtpd does: a 5xx
// at connect replaces it with "554 host ESMTP not accepting connections"
// (the refusal itself then answers MAIL), a 421 with "421 host Service
// unavailable" and the end of the session; any other answer keeps the
// 220, and a 4xx answers MAIL.
func (c *conn) milterBanner(b []byte) []byte {
	if c.cfg.Milters == nil {
		return b
	}
	port := uint16(0)
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		port = ap.Port()
	}
	c.milters = c.cfg.Milters.Open(queue.Client{Name: c.name, Addr: c.ip.String(), Proto: "SMTP"}, port)
	if c.milters == nil {
		return b
	}
	st := c.milters.Connect(context.Background())
	switch {
	case st == nil || st.Code/100 == 4 && st.Code != 421:
		return b
	case st.Code == 421:
		c.expire() // go-smtp closes on the next read
		return []byte(fmt.Sprintf("421 %s Service unavailable - try again later\r\n", c.cfg.Hostname))
	}
	return []byte(fmt.Sprintf("554 %s ESMTP not accepting connections\r\n", c.cfg.Hostname))
}

// milterHelo reports a greeting; only a 421 is answered at HELO (Postfix
// and Sendmail answer HELO 250 and keep any other refusal for MAIL).
func (s *session) milterHelo() *dsn.Status {
	mc := s.c.milters
	if mc == nil {
		return nil
	}
	if st := mc.Helo(context.Background(), sanitize(s.helo)); st != nil && st.Code == 421 {
		s.c.expire()
		return st
	}
	return nil
}

// milterReply is the reply for a milter's refusal of a command: a 421
// ends the session after it.
func (s *session) milterReply(st *dsn.Status) error {
	if st.Code == 421 {
		s.c.expire()
	}
	return st.SMTPError()
}

// transaction is the envelope so far, for the milters.
func (s *session) transaction() *queue.Envelope {
	return &queue.Envelope{Sender: s.from, Recipients: s.rcpts, Client: s.queueClient()}
}

// mailArgs are MAIL FROM's ESMTP parameters, as the milters see them.
func mailArgs(o *smtp.MailOptions) []string {
	var a []string
	if o.Size > 0 {
		a = append(a, "SIZE="+strconv.FormatInt(o.Size, 10))
	}
	if o.Body != "" {
		a = append(a, "BODY="+string(o.Body))
	}
	if o.UTF8 {
		a = append(a, "SMTPUTF8")
	}
	if o.Return != "" {
		a = append(a, "RET="+string(o.Return))
	}
	if o.EnvelopeID != "" {
		a = append(a, "ENVID="+o.EnvelopeID)
	}
	return a
}

// rcptArgs are RCPT TO's ESMTP parameters.
func rcptArgs(o *smtp.RcptOptions) []string {
	var a []string
	if n := notify(o); n != "" {
		a = append(a, "NOTIFY="+n)
	}
	if r := orcpt(o); r != "" {
		a = append(a, "ORCPT="+r)
	}
	return a
}

// milterData reports the DATA command before go-smtp answers it; a
// refusal is answered here and the command is not passed on.
func (c *conn) milterData() *dsn.Status {
	s := c.sess
	if c.milters == nil || s == nil || s.dataSent.Load() || !s.mailSeen || len(s.rcpts) == 0 {
		return nil
	}
	if !s.dataSent.CompareAndSwap(false, true) {
		return nil
	}
	st := c.milters.Data(context.Background(), s.transaction())
	if st != nil && st.Code == 421 {
		c.expire()
	}
	return st
}
