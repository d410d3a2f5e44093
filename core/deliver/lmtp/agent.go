package lmtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

var (
	badNexthop   = dsn.New(451, "4.3.5", "mail system configuration error: bad LMTP next hop")
	needSMTPUTF8 = dsn.New(550, "5.6.7", "SMTPUTF8 is required, but was not offered by the LMTP server")
)

// Agent is the lmtp delivery agent. It is safe for concurrent use.
type Agent struct {
	cfg Config
	log *slog.Logger
}

var _ deliver.Agent = (*Agent)(nil)

// New builds an Agent.
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, log: cfg.Logger}, nil
}

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	res := a.deliver(ctx, req)
	deliver.LogResults(a.log, req, res)
	return res
}

func (a *Agent) deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	n := len(req.Recipients)
	if n == 0 {
		return nil
	}
	// No option is defined for this transport.
	if res := deliver.RefuseOptions(a.log, req); res != nil {
		return res
	}
	nh, err := ParseNexthop(req.Nexthop)
	if err != nil {
		a.log.Error("bad next hop", "queue_id", req.QueueID, "err", err)
		return deliver.AllResults(n, badNexthop, "none")
	}
	relay := nh.String()
	dctx, cancel := context.WithTimeout(ctx, a.cfg.ConnectTimeout)
	conn, err := a.cfg.Dialer(dctx, nh.Network, nh.Addr)
	cancel()
	if err != nil {
		a.log.Info("connect failed", "queue_id", req.QueueID, "relay", relay, "err", err)
		return deliver.AllResults(n, dsn.ConnectFailed.WithText("connect to "+relay+" failed"), relay)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := smtp.NewClientLMTP(conn)
	c.CommandTimeout = a.cfg.CommandTimeout
	c.SubmissionTimeout = a.cfg.DataTimeout
	res := make([]deliver.Result, n)
	a.session(c, conn, relay, req, res)
	_ = c.Quit()
	return res
}

// session runs LHLO and one transaction, filling res.
func (a *Agent) session(c *smtp.Client, conn net.Conn, relay string, req *deliver.Request, res []deliver.Result) {
	if err := c.Hello(a.cfg.Lhlo); err != nil {
		fill(res, nil, statusOf(relay, "greeting or LHLO", err), relay)
		return
	}
	utf8, _ := c.Extension("SMTPUTF8")
	if req.SMTPUTF8 && !utf8 && !envelopeASCII(req) {
		fill(res, nil, needSMTPUTF8, relay)
		return
	}
	if err := c.Mail(req.Sender, &smtp.MailOptions{Size: req.Content.Size(), UTF8: req.SMTPUTF8 && utf8}); err != nil {
		fill(res, nil, statusOf(relay, "sending MAIL FROM", err), relay)
		return
	}
	var accepted []int
	for i, r := range req.Recipients {
		err := c.Rcpt(r.Addr, nil)
		if err == nil {
			accepted = append(accepted, i)
			continue
		}
		res[i] = deliver.Result{Status: statusOf(relay, "sending RCPT TO", err), Relay: relay}
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code == 421 {
			fill(res, accepted, res[i].Status, relay) // the session is over
			return
		}
	}
	if len(accepted) > 0 {
		a.data(c, conn, relay, req, res, accepted)
	}
}

// data sends the content and maps the per-recipient replies.
func (a *Agent) data(c *smtp.Client, conn net.Conn, relay string, req *deliver.Request, res []deliver.Result, accepted []int) {
	w, err := c.Data()
	if err != nil {
		fill(res, accepted, statusOf(relay, "sending DATA", err), relay)
		return
	}
	// go-smtp sets no deadline while the body is written.
	_ = conn.SetDeadline(time.Now().Add(a.cfg.DataTimeout))
	_, err = io.Copy(w, req.Content.Open())
	_ = conn.SetDeadline(time.Time{})
	if err != nil {
		fill(res, accepted, statusOf(relay, "sending message body", err), relay)
		return
	}
	ok, err := w.CloseWithLMTPResponse()
	var perRcpt smtp.LMTPDataError
	errors.As(err, &perRcpt)
	lost := statusOf(relay, "waiting for the replies after DATA", err)
	for _, i := range accepted {
		addr := req.Recipients[i].Addr
		switch {
		case perRcpt[addr] != nil:
			se := perRcpt[addr]
			res[i].Status = dsn.FromSMTP(se.Code, se.EnhancedCode, se.Message)
		case ok[addr] != nil:
			res[i].Status = sentStatus(ok[addr].StatusText)
		default: // no reply for this one: the connection broke
			res[i].Status = lost
		}
		res[i].Relay = relay
	}
}

// sentStatus keeps the server's success text, with its enhanced code
// when it gave one ("2.0.0 <id> Saved").
func sentStatus(text string) *dsn.Status {
	if code, rest, ok := strings.Cut(text, " "); ok {
		if e, good := dsn.ParseEnhanced(code); good && e[0] == 2 {
			return dsn.New(250, code, rest)
		}
	}
	return dsn.New(250, "2.0.0", text)
}

// statusOf is the server's reply, or a deferral when the connection
// broke or timed out.
func statusOf(relay, stage string, err error) *dsn.Status {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return dsn.FromSMTP(se.Code, se.EnhancedCode, se.Message)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return dsn.RemoteTimeout.WithText(fmt.Sprintf("conversation with %s timed out while %s", relay, stage))
	}
	return dsn.RemoteTimeout.WithText(fmt.Sprintf("lost connection with %s while %s", relay, stage))
}

// fill sets st for the indexes in idx, and for every recipient without
// a result yet.
func fill(res []deliver.Result, idx []int, st *dsn.Status, relay string) {
	for _, i := range idx {
		res[i] = deliver.Result{Status: st, Relay: relay}
	}
	for i := range res {
		if res[i].Status == nil {
			res[i] = deliver.Result{Status: st, Relay: relay}
		}
	}
}

func envelopeASCII(req *deliver.Request) bool {
	all := req.Sender
	for _, r := range req.Recipients {
		all += r.Addr
	}
	for i := 0; i < len(all); i++ {
		if all[i] >= 0x80 {
			return false
		}
	}
	return true
}
