package milter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Judge sees each milter's Result before it is applied and may change
// it in place (the Lua "milter" event): turn a reject into a tag, put
// the message on hold, drop the milter's edits. env and h are the
// message as the earlier milters left it; the Judge must not keep them.
// An error fails the message temporarily.
type Judge interface {
	Judge(ctx context.Context, r *Result, env *queue.Envelope, h *textproto.Header) error
}

// Filter runs the configured milters over each message it applies to;
// it implements cleanup.Filter. Its fields are set once before use.
type Filter struct {
	Hostname string // the j macro
	// MaxSize bounds the message held in memory for the milters; a
	// larger one is refused 552 5.3.4. Default 64 MiB.
	MaxSize int64
	Judge   Judge // may be nil
	Log     *slog.Logger
	milters []*milter
}

// milter is one configured milter, its address parsed.
type milter struct {
	cfg           Config
	network, addr string
}

// New builds a Filter over the milters, in the order given.
func New(cfgs []Config, hostname string, log *slog.Logger) (*Filter, error) {
	f := &Filter{Hostname: hostname, Log: log}
	for _, c := range cfgs {
		network, addr, err := ParseAddress(c.Address)
		if err != nil {
			return nil, fmt.Errorf("milter %q: %w", c.Name, err)
		}
		f.milters = append(f.milters, &milter{cfg: c.withDefaults(), network: network, addr: addr})
	}
	return f, nil
}

// Filter implements cleanup.Filter. A message from an SMTP session that
// talked to the milters live (ctx carries its Conn, see Conn.Message)
// finishes that conversation: header, body, end of message. Any other
// message has its SMTP phases replayed first.
func (f *Filter) Filter(ctx context.Context, env *queue.Envelope, h *textproto.Header, body io.Reader) (io.Reader, policy.Verdict, error) {
	lc := liveConn(ctx)
	ms := f.applicable(env)
	if len(ms) == 0 && lc == nil {
		return body, policy.Verdict{Action: policy.Accept}, nil
	}
	raw, err := io.ReadAll(io.LimitReader(body, f.maxSize()+1))
	if err != nil {
		return nil, policy.Verdict{}, err
	}
	if int64(len(raw)) > f.maxSize() {
		return bytes.NewReader(raw), policy.Verdict{Action: policy.Reject, Status: dsn.MessageTooBig}, nil
	}
	msg := &message{env: env, h: h, body: raw, hostname: f.Hostname}
	var v policy.Verdict
	if lc != nil {
		v, err = lc.content(ctx, msg)
	} else {
		v, err = f.run(ctx, ms, msg)
	}
	return bytes.NewReader(msg.body), v, err
}

// run asks each milter in turn, replaying the SMTP phases; the first
// refusal ends the run.
func (f *Filter) run(ctx context.Context, ms []*milter, msg *message) (policy.Verdict, error) {
	verdict := policy.Verdict{Action: policy.Accept}
	for _, m := range ms {
		if final, err := f.take(ctx, m.converse(ctx, msg), msg, &verdict); final || err != nil {
			return verdict, err
		}
	}
	return verdict, nil
}

// take judges one milter's answer about the content and applies it: a
// refusal or a discard is final (verdict says which); an accept applies
// the edits, and a quarantine makes verdict a Hold.
func (f *Filter) take(ctx context.Context, r *Result, msg *message, verdict *policy.Verdict) (bool, error) {
	if f.Judge != nil {
		if err := f.Judge.Judge(ctx, r, msg.env, msg.h); err != nil {
			return true, fmt.Errorf("milter %s: judge: %w", r.Milter, err)
		}
	}
	f.logResult(msg.env, r)
	switch r.Action {
	case "reject", "tempfail":
		*verdict = policy.Verdict{Action: policy.Reject, Status: refusal(r)}
		return true, nil
	case "discard":
		*verdict = policy.Verdict{Action: policy.Discard, Reason: "milter " + r.Milter}
		return true, nil
	}
	if err := apply(msg, r.Edits); err != nil {
		return true, fmt.Errorf("milter %s: %w", r.Milter, err)
	}
	if r.Quarantine != "" {
		*verdict = policy.Verdict{Action: policy.Hold, Reason: "milter " + r.Milter + ": " + r.Quarantine}
	}
	return false, nil
}

// refusal is the reply of a reject or tempfail Result.
func refusal(r *Result) *dsn.Status {
	if r.Status != nil && !r.Status.OK() {
		return r.Status
	}
	if r.Action == "tempfail" {
		return Tempfail4
	}
	return Rejected
}

// applicable lists the milters for env's origin: an SMTP client, or a
// local submission (sendmail, whose client carries the user, or the HTTP
// API). Notices and local forwards, which are the system's own mail, are
// never filtered.
func (f *Filter) applicable(env *queue.Envelope) []*milter {
	c := env.Client
	smtpd := strings.Contains(c.Proto, "SMTP")
	local := c.Proto == "HTTP" || (c.Proto == "LOCAL" && c.AuthUser != "")
	var out []*milter
	for _, m := range f.milters {
		if (smtpd && m.cfg.Smtpd) || (local && m.cfg.Local) {
			out = append(out, m)
		}
	}
	return out
}

func (f *Filter) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return 64 << 20
}

// logResult logs each milter's answer, in Postfix's milter-reject shape
// for refusals.
func (f *Filter) logResult(env *queue.Envelope, r *Result) {
	if f.Log == nil {
		return
	}
	who := clientName(env) + "[" + orString(env.Client.Addr, "127.0.0.1") + "]"
	id := orString(string(env.ID), "NOQUEUE")
	switch {
	case r.Failed != "":
		at := ""
		if r.Phase != "" {
			at = " at " + strings.ToUpper(r.Phase)
		}
		f.Log.Warn(fmt.Sprintf("%s: milter %s failed%s: %s; default_action %s", id, r.Milter, at, r.Failed, r.Action))
	case r.Action != "accept":
		text := r.Action
		if r.Status != nil {
			text = r.Status.Error()
		}
		line := fmt.Sprintf("%s: milter-%s: %s from %s: %s; milter=%s from=<%s>", id, r.Action,
			strings.ToUpper(r.Phase), who, text, r.Milter, env.Sender)
		if r.Rcpt != "" {
			line += " to=<" + r.Rcpt + ">"
		}
		f.Log.Info(line)
	case r.Quarantine != "":
		f.Log.Info(fmt.Sprintf("%s: milter-hold: from %s: %s; milter=%s", id, who, r.Quarantine, r.Milter))
	}
}
