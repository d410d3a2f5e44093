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

// Filter implements cleanup.Filter.
func (f *Filter) Filter(ctx context.Context, env *queue.Envelope, h *textproto.Header, body io.Reader) (io.Reader, policy.Verdict, error) {
	ms := f.applicable(env)
	if len(ms) == 0 {
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
	v, err := f.run(ctx, ms, msg)
	return bytes.NewReader(msg.body), v, err
}

// run asks each milter in turn; the first refusal ends the run.
func (f *Filter) run(ctx context.Context, ms []*milter, msg *message) (policy.Verdict, error) {
	verdict := policy.Verdict{Action: policy.Accept}
	for _, m := range ms {
		r := m.converse(ctx, msg)
		if f.Judge != nil {
			if err := f.Judge.Judge(ctx, r, msg.env, msg.h); err != nil {
				return verdict, fmt.Errorf("milter %s: judge: %w", m.cfg.Name, err)
			}
		}
		f.logResult(msg.env, r)
		switch r.Action {
		case "reject", "tempfail":
			st := r.Status
			if st == nil || st.OK() {
				st = map[string]*dsn.Status{"reject": Rejected, "tempfail": Tempfail4}[r.Action]
			}
			return policy.Verdict{Action: policy.Reject, Status: st}, nil
		case "discard":
			return policy.Verdict{Action: policy.Discard, Reason: "milter " + m.cfg.Name}, nil
		}
		if err := apply(msg, r.Edits); err != nil {
			return verdict, fmt.Errorf("milter %s: %w", m.cfg.Name, err)
		}
		if r.Quarantine != "" {
			verdict = policy.Verdict{Action: policy.Hold, Reason: "milter " + m.cfg.Name + ": " + r.Quarantine}
		}
	}
	return verdict, nil
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
	switch {
	case r.Failed != "":
		f.Log.Warn(fmt.Sprintf("%s: milter %s failed: %s; default_action %s", env.ID, r.Milter, r.Failed, r.Action))
	case r.Action != "accept":
		text := r.Action
		if r.Status != nil {
			text = r.Status.Error()
		}
		f.Log.Info(fmt.Sprintf("%s: milter-%s: %s from %s: %s; milter=%s from=<%s>", env.ID, r.Action,
			strings.ToUpper(r.Phase), who, text, r.Milter, env.Sender))
	case r.Quarantine != "":
		f.Log.Info(fmt.Sprintf("%s: milter-hold: from %s: %s; milter=%s", env.ID, who, r.Quarantine, r.Milter))
	}
}
