package app

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/pickup"
	sendmailopt "github.com/moonpost/moonpost/core/pickup/sendmail"
	"github.com/moonpost/moonpost/core/queue"
)

// sendmailSMTP implements sendmail -bs: an SMTP dialogue on stdin and
// stdout whose messages go into the maildrop, as Postfix's sendmail -bs
// does. The 250 after DATA comes only after the maildrop commit.
func sendmailSMTP(o *sendmailopt.Options) int {
	cfg, err := loadConfig(o.Config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		return exConfig
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &bsSession{cfg: cfg}, nil
	}))
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.Pickup.MaxSize
	srv.MaxRecipients = cfg.SMTPD.RecipientLimit
	srv.ReadTimeout = cfg.SMTPD.IdleTimeout.D()
	srv.EnableSMTPUTF8 = true
	srv.EnableDSN = true
	l := newStdioListener()
	if err := srv.Serve(l); err != nil && !errors.Is(err, errStdioDone) {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		return exSoftware
	}
	<-l.closed
	return exOK
}

// bsSession collects one transaction at a time.
type bsSession struct {
	cfg *config.Config
	env *queue.Envelope
}

func (s *bsSession) Reset()        { s.env = nil }
func (s *bsSession) Logout() error { return nil }

func (s *bsSession) Mail(from string, opts *smtp.MailOptions) error {
	if strings.ContainsAny(from, "\r\n\x00") || len(from) > 512 {
		return dsn.BadSender.SMTPError()
	}
	if from == "" {
		from = pickup.LoginName()
	}
	s.env = &queue.Envelope{Sender: from, SMTPUTF8: opts.UTF8, EnvID: opts.EnvelopeID}
	if opts.Return != "" {
		s.env.Ret = strings.ToUpper(string(opts.Return))
	}
	if opts.Body != "" {
		s.env.BodyType = strings.ToUpper(string(opts.Body))
	}
	return nil
}

func (s *bsSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.env == nil {
		return dsn.BadSequence.SMTPError()
	}
	if to == "" || strings.ContainsAny(to, "\r\n\x00") || len(to) > 512 {
		return dsn.BadRecipient.SMTPError()
	}
	r := queue.Recipient{Addr: to}
	var notify []string
	for _, n := range opts.Notify {
		notify = append(notify, string(n))
	}
	r.Notify = strings.Join(notify, ",")
	if opts.OriginalRecipient != "" {
		r.ORcpt = string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
	}
	s.env.Recipients = append(s.env.Recipients, r)
	return nil
}

func (s *bsSession) Data(r io.Reader) error {
	if s.env == nil || len(s.env.Recipients) == 0 {
		return dsn.BadSequence.SMTPError()
	}
	id, err := pickup.Post(s.cfg.SpoolDir, s.env, r, s.cfg.Pickup.MaxSize)
	if errors.Is(err, queue.ErrTooBig) {
		return dsn.MessageTooBig.SMTPError()
	}
	if err != nil {
		return dsn.TempLocal.SMTPError()
	}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + string(id)}
}

var errStdioDone = errors.New("stdio session finished")

// stdioListener hands go-smtp one connection made of stdin and stdout,
// then reports that it is done.
type stdioListener struct {
	once   sync.Once
	conn   chan net.Conn
	closed chan struct{}
}

func newStdioListener() *stdioListener {
	l := &stdioListener{conn: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conn <- &stdioConn{l: l}
	return l
}

func (l *stdioListener) Accept() (net.Conn, error) {
	if c, ok := <-l.conn; ok {
		return c, nil
	}
	return nil, errStdioDone
}

func (l *stdioListener) Close() error   { return nil }
func (l *stdioListener) Addr() net.Addr { return stdioAddr{} }

func (l *stdioListener) finish() {
	l.once.Do(func() { close(l.conn); close(l.closed) })
}

type stdioConn struct{ l *stdioListener }

func (c *stdioConn) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (c *stdioConn) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (c *stdioConn) Close() error                { c.l.finish(); return nil }
func (c *stdioConn) LocalAddr() net.Addr         { return stdioAddr{} }
func (c *stdioConn) RemoteAddr() net.Addr        { return stdioAddr{} }
func (c *stdioConn) SetDeadline(time.Time) error { return nil }
func (c *stdioConn) SetReadDeadline(time.Time) error {
	return nil // stdin has no deadline; the parent process owns it
}
func (c *stdioConn) SetWriteDeadline(time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "stdio" }
