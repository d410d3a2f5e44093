package smtpd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// session is go-smtp's Session for one HELO/EHLO-to-QUIT span. go-smtp
// makes a new one after STARTTLS; what outlives that is kept in conn.
type session struct {
	srv      *Server
	c        *conn
	gc       *smtp.Conn
	l        *Listener
	authUser string
	// greetReject is the connect or HELO policy's rejection of the
	// greeting after STARTTLS, answered at MAIL and AUTH (tls.go).
	greetReject *dsn.Status
	// decided is the script generation behind the rejection about to be
	// logged (0: not the scripts'); logReject consumes it.
	decided int

	// The transaction, cleared by Reset.
	mailSeen bool
	from     string // canonical sender, "" for <>
	mailOpts smtp.MailOptions
	rcpts    []queue.Recipient
	// dataSent is set once the milters were told DATA (milter.go); atomic,
	// for a BDAT transfer's Data runs beside the command reader.
	dataSent atomic.Bool

	// inData is held by Data. For BDAT go-smtp runs Data on a goroutine of
	// its own and may reset the transaction while it runs (a chunk over
	// the size limit, RSET, a new EHLO): Reset waits for it, so Data
	// never sees the transaction change under it (go-smtp has closed
	// Data's pipe by then, so Data ends soon).
	inData sync.Mutex
	// helo is the greeting's argument, copied from go-smtp when the
	// session starts and at each Reset: go-smtp writes its own before the
	// Reset of a new EHLO, while a BDAT transfer's Data may still read it.
	helo string
}

var _ smtp.AuthSession = (*session)(nil)

// newSession runs on the first HELO/EHLO of a connection and again after
// STARTTLS. Connect and HELO policy are both checked here, because go-smtp
// writes the banner before any backend code runs (Postfix's default
// smtpd_delay_reject behaves alike: client checks answer a later command).
func (s *Server) newSession(gc *smtp.Conn, l *Listener) (smtp.Session, error) {
	c := gc.Conn().(*conn) // TLS is below it (tls.go)
	ss := &session{srv: s, c: c, gc: gc, l: l, helo: gc.Hostname()}
	if rej := ss.greet(); rej != nil {
		return nil, rej.SMTPError()
	}
	if st := ss.milterHelo(); st != nil {
		return nil, st.SMTPError()
	}
	c.sess = ss
	return ss, nil
}

// greet runs the connect and HELO policy for a greeting.
func (s *session) greet() *dsn.Status {
	s.c.counts.helo.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.PolicyTimeout)
	defer cancel()
	ps := s.policySession()
	st, err := s.c.cfg.Policy.Connect(ctx, ps)
	if err == nil && st == nil {
		st, err = s.c.cfg.Policy.Helo(ctx, ps, s.helo)
	}
	rej := s.verdict("HELO", st, err)
	if rej != nil {
		s.decided = ps.Generation
		s.logReject("CONNECT", rej, "")
	}
	return rej
}

// isTLS reports whether the session is encrypted.
func (s *session) isTLS() bool { return s.c.isTLS() }

// greetingDone refuses MAIL and AUTH until the client greeted again
// after STARTTLS, and then with that greeting's policy rejection.
func (s *session) greetingDone() *dsn.Status {
	if s.c.tl.needHelo.Load() {
		return dsn.NeedHelo
	}
	return s.greetReject
}

// Mail starts a transaction. Submission ports require AUTH first.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.c.counts.mail.Add(1)
	if st := s.greetingDone(); st != nil {
		return st.SMTPError()
	}
	if s.mailSeen {
		// go-smtp would start over, keeping the first transaction's
		// recipients for the second sender: refuse, change nothing.
		return nestedMail.SMTPError()
	}
	if opt := mailOptionsAfterHelo(s, opts); opt != "" {
		return optionAfterHelo.WithText(optionAfterHelo.Text + ": " + opt).SMTPError()
	}
	if s.l.Submission && s.authUser == "" {
		s.logReject("MAIL", dsn.AuthRequired, "")
		return dsn.AuthRequired.SMTPError()
	}
	if st := s.srv.checkStorage(opts.Size); st != nil {
		s.logReject("MAIL", st, "")
		return st.SMTPError()
	}
	canon := ""
	if from != "" {
		a, err := ParseAddress(from, opts.UTF8)
		if err != nil {
			return dsn.BadSender.SMTPError()
		}
		canon = a.String()
	}
	s.from, s.mailOpts = canon, *opts
	if rej := s.overRate("messages"); rej != nil {
		s.logReject("MAIL", rej, "")
		s.from = ""
		return rej.SMTPError()
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.PolicyTimeout)
	defer cancel()
	ps := s.policySession()
	st, err := s.c.cfg.Policy.Mail(ctx, ps, canon)
	if rej := s.verdict("MAIL", st, err); rej != nil {
		s.decided = ps.Generation
		s.logReject("MAIL", rej, "")
		return rej.SMTPError()
	}
	if mc := s.c.milters; mc != nil {
		if st := mc.Mail(ctx, s.transaction(), mailArgs(opts)); st != nil {
			s.from, s.mailOpts = "", smtp.MailOptions{}
			return s.milterReply(st)
		}
	}
	s.mailSeen = true
	s.c.busy.Store(true)
	return nil
}

// Rcpt adds a recipient. Relay control runs first and is not policy: a
// script can add rejections but never open the relay.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	s.c.counts.rcpt.Add(1)
	if opt := rcptOptionsAfterHelo(s, opts); opt != "" {
		return optionAfterHelo.WithText(optionAfterHelo.Text + ": " + opt).SMTPError()
	}
	a, err := ParseAddress(to, s.mailOpts.UTF8)
	if err != nil {
		return dsn.BadRecipient.SMTPError()
	}
	rcpt := a.String()
	if !s.mayRelayTo(a) {
		rej := dsn.RelayDenied.WithText("<" + rcpt + ">: " + dsn.RelayDenied.Text)
		s.logReject("RCPT", rej, rcpt)
		return rej.SMTPError()
	}
	if rej := s.overRate("recipients"); rej != nil {
		s.logReject("RCPT", rej, rcpt)
		return rej.SMTPError()
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.PolicyTimeout)
	defer cancel()
	ps := s.policySession()
	st, err := s.c.cfg.Policy.Rcpt(ctx, ps, rcpt)
	if rej := s.verdict("RCPT", st, err); rej != nil {
		s.decided = ps.Generation
		s.logReject("RCPT", rej, rcpt)
		return rej.SMTPError()
	}
	if mc := s.c.milters; mc != nil {
		if st := mc.Rcpt(ctx, s.transaction(), rcpt, rcptArgs(opts)); st != nil {
			return s.milterReply(st)
		}
	}
	s.rcpts = append(s.rcpts, queue.Recipient{
		Addr: rcpt, ORcpt: orcpt(opts), Notify: notify(opts), State: queue.Pending,
	})
	return nil
}

// mayRelayTo is the relay rule: our own and relay domains from anyone,
// anything else only from mynetworks or an authenticated client.
func (s *session) mayRelayTo(a Address) bool {
	cfg := s.c.cfg
	if cfg.LocalDomains.Contains(a.Domain) || cfg.RelayDomains.Contains(a.Domain) {
		return true
	}
	return s.authUser != "" || cfg.trusted(s.c.ip)
}

// Reset ends the transaction; a draining server lets the client go now.
// go-smtp also calls it for a greeting after the first: after STARTTLS
// that greeting is checked like the first one.
func (s *session) Reset() {
	s.inData.Lock()
	defer s.inData.Unlock()
	s.helo = s.gc.Hostname()
	s.mailSeen, s.from, s.mailOpts, s.rcpts = false, "", smtp.MailOptions{}, nil
	s.dataSent.Store(false)
	s.c.busy.Store(false)
	if s.c.milters != nil {
		s.c.milters.Reset()
	}
	if s.c.tl.greeting && s.c.tl.needHelo.Swap(false) {
		s.greetReject = s.greet()
	}
	if s.c.tl.greeting {
		s.milterHelo() // a 421 ends the session after go-smtp's 250
	}
	if s.srv.isDraining() {
		s.c.kick()
	}
}

// Logout is called when the session ends; nothing is held beyond it.
func (s *session) Logout() error {
	s.c.busy.Store(false)
	return nil
}

// verdict turns a policy answer into the rejection to send, if any. A
// policy error is an internal fault: 451 4.3.0, logged, never an accept.
func (s *session) verdict(stage string, st *dsn.Status, err error) *dsn.Status {
	if err != nil {
		// An error whose source held back its own log line (a hook that
		// keeps failing) is not logged per call here either.
		if q, ok := err.(interface{ Quiet() bool }); !ok || !q.Quiet() {
			s.srv.log.Error("NOQUEUE: policy error at "+stage+" from "+s.c.client(), "err", err)
		}
		return dsn.TempPolicy
	}
	if st != nil && !st.OK() {
		return st
	}
	return nil
}

// logReject writes Postfix's reject line.
func (s *session) logReject(stage string, st *dsn.Status, to string) {
	s.srv.countReject(stage, st)
	msg := fmt.Sprintf("NOQUEUE: reject: %s from %s: %s; from=<%s>", stage, s.c.client(), st.Error(), s.from)
	if to != "" {
		msg += " to=<" + to + ">"
	}
	msg += fmt.Sprintf(" proto=%s helo=<%s>", s.proto(), sanitize(s.helo))
	if s.decided > 0 {
		msg += fmt.Sprintf(" generation=%d", s.decided) // the scripts that decided
		s.decided = 0
	}
	s.srv.log.Info(msg, "listener", s.l.Name)
}

// proto names the protocol as Received: and the logs do.
func (s *session) proto() string {
	p := "SMTP"
	if s.c.ehlo.Load() || s.isTLS() {
		p = "ESMTP"
	}
	if s.isTLS() {
		p += "S"
	}
	if s.authUser != "" {
		p += "A"
	}
	return p
}

// queueClient is the client as the queue file records it.
func (s *session) queueClient() queue.Client {
	return queue.Client{
		Name: s.c.name, Addr: s.c.ip.String(), Helo: sanitize(s.helo),
		Proto: s.proto(), AuthUser: s.authUser,
	}
}

// policySession is the snapshot policy sees.
func (s *session) policySession() *policy.Session {
	if s.c.meta == nil {
		s.c.meta = map[string]string{}
	}
	ps := &policy.Session{Meta: s.c.meta, Tenant: &s.c.tenant,
		ID: s.c.id, Listener: s.l.Name, ClientAddr: s.c.ip, ClientName: s.c.name,
		Helo: s.helo, TLS: s.isTLS(), AuthUser: s.authUser,
		Trusted: s.c.cfg.trusted(s.c.ip), Sender: s.from, Size: s.mailOpts.Size,
	}
	for _, r := range s.rcpts {
		ps.Recipients = append(ps.Recipients, r.Addr)
	}
	return ps
}

func orcpt(o *smtp.RcptOptions) string {
	if o == nil || o.OriginalRecipientType == "" {
		return ""
	}
	return string(o.OriginalRecipientType) + ";" + o.OriginalRecipient
}

func notify(o *smtp.RcptOptions) string {
	if o == nil {
		return ""
	}
	var n []string
	for _, v := range o.Notify {
		n = append(n, string(v))
	}
	return strings.Join(n, ",")
}

// sanitize makes client-supplied text safe for a header or a log line.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
