package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/internal/bufpool"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Cleanup is the cleanup service. Its fields are set once before use.
type Cleanup struct {
	Store       *queue.Store
	Hostname    string // for Message-ID and the MAILER-DAEMON address
	SizeLimit   int64  // content limit; 0 for none
	HeaderLimit int    // header block limit; default 102400
	HopLimit    int    // Received: headers before 5.4.6; default 50
	Policy      policy.Cleanup
	Rewriter    policy.Rewriter
	// Notify is told about each message committed to incoming/, so the
	// queue manager picks it up without waiting for its scan.
	Notify func(queue.ID)
	// NotifyTenant, when set, is told instead of Notify, with the
	// message's tenant, so the queue manager admits it to the active
	// set in its tenant's turn (qmgr.Manager.WakeTenant).
	NotifyTenant func(id queue.ID, tenant string)
	// Handoff, when set, may take new mail into the queue manager's
	// active set as it is committed, skipping incoming/.
	Handoff Handoff
	// DKIM signs mail after the cleanup policy (nil: never).
	DKIM *auth.Signer
	// Verify checks inbound mail before the cleanup policy (nil: never).
	Verify Verifier
	Log    *slog.Logger
	Now    func() time.Time
	// received counts committed messages: SMTP, local, HTTP (Received).
	received [3]atomic.Int64

	// Filter, when set, filters content before the policy (milters).
	Filter Filter
}

// Handoff is the queue manager's side of committing straight into
// active/: Reserve a place, then Adopt the committed message, or
// Unreserve when the commit failed.
type Handoff interface {
	Reserve() bool
	Unreserve()
	Adopt(*queue.Message)
}

// Verifier checks the authentication of inbound mail (core/auth).
// Applies says whether a message is checked at all; Check reads the
// content after the header and never fails (problems are results);
// Stamp writes the results into the header.
type Verifier interface {
	Applies(env *queue.Envelope) bool
	Check(ctx context.Context, env *queue.Envelope, h *textproto.Header, body io.Reader) *policy.AuthResults
	Stamp(h *textproto.Header, res *policy.AuthResults)
}

// Options change how one submission is handled.
type Options struct {
	// Extract takes the recipients from To, Cc and Bcc (sendmail -t);
	// envelope recipients given as well are added to them.
	Extract bool
	// Forward marks an alias expansion resent to its targets: it is
	// sealed with ARC when the signer is set up for it.
	Forward bool
	// Data, when set, is the SMTP transaction's DATA policy: it runs
	// after the milters and the authentication checks, before the
	// cleanup policy, and a Status it returns refuses the message.
	Data policy.DataCheck
}

// Submit reads a message from r and queues it, as SubmitWith with no
// options.
func (c *Cleanup) Submit(ctx context.Context, env *queue.Envelope, r io.Reader) (queue.ID, error) {
	return c.SubmitWith(ctx, env, r, Options{})
}

// SubmitSMTP implements smtpd.Submitter: check is the DATA policy.
func (c *Cleanup) SubmitSMTP(ctx context.Context, env *queue.Envelope, r io.Reader, check policy.DataCheck) (queue.ID, error) {
	return c.SubmitWith(ctx, env, r, Options{Data: check})
}

// SubmitWith reads a message from r and queues it. It always consumes r.
func (c *Cleanup) SubmitWith(ctx context.Context, env *queue.Envelope, r io.Reader, opt Options) (queue.ID, error) {
	defer queue.Discard(r)
	if env.ID == "" {
		env.ID = queue.NewID(c.now())
	}
	if env.Arrival.IsZero() {
		env.Arrival = c.now()
	}
	norm := newNormalizer(r)
	defer norm.release()
	br := bufpool.Reader(norm)
	defer bufpool.PutReader(br)
	h, first, err := readHeader(br, c.headerLimit())
	if err != nil {
		return env.ID, dsn.HeaderTooBig
	}
	if opt.Extract {
		extractRecipients(env, &h)
	}
	if st := c.prepare(ctx, env, &h); st != nil {
		return env.ID, st
	}
	env.ExtractRcpts, env.FullName = false, "" // maildrop-only fields
	body, filtered, err := c.filter(ctx, env, &h, first, br)
	if err != nil {
		c.log().Error("content filter failed", "queue_id", env.ID, "err", err)
		return env.ID, dsn.TempPolicy
	}
	if filtered.Action == policy.Reject || filtered.Action == policy.Discard {
		return c.finish(env, &h, filtered, nil, body)
	}
	ct := &content{r: body} // the filtered content
	defer func() { ct.sp.Close() }()
	verdict, st := c.decide(ctx, env, &h, ct, opt)
	if st != nil {
		return env.ID, st
	}
	first, rest := ct.parts()
	return c.finish(env, &h, combine(filtered, verdict), first, rest)
}

// decide checks inbound authentication, runs the DATA and cleanup
// policies, then signs what will be queued: the policies see the
// results, the signature covers the cleanup policy's edits.
func (c *Cleanup) decide(ctx context.Context, env *queue.Envelope, h *textproto.Header, ct *content, opt Options) (policy.Verdict, *dsn.Status) {
	m := &policy.Message{Envelope: env, Header: h}
	var st *dsn.Status
	if m.Auth, st = c.verify(ctx, env, h, ct); st != nil {
		return policy.Verdict{}, st
	}
	if opt.Data != nil {
		if st := opt.Data(ctx, h, m.Auth); st != nil {
			c.log().Info("reject by DATA policy", "queue_id", env.ID, "status", st.Error())
			return policy.Verdict{}, st
		}
	}
	verdict, err := c.policy(ctx, m)
	if err != nil {
		c.log().Error("cleanup policy failed", "queue_id", env.ID, "err", err)
		return verdict, dsn.TempPolicy
	}
	if verdict.Action == policy.Accept || verdict.Action == policy.Hold {
		st = c.sign(ctx, env, h, m.DKIM, ct, opt.Forward)
	}
	return verdict, st
}

// prepare checks hops, rewrites addresses and adds missing headers.
func (c *Cleanup) prepare(ctx context.Context, env *queue.Envelope, h *textproto.Header) *dsn.Status {
	if n := len(h.Values("Received")); n >= c.hopLimit() {
		c.log().Warn("reject: too many hops", "queue_id", env.ID, "received", n)
		return dsn.MailLoop.WithText("Too many hops")
	}
	if err := c.rewrite(ctx, env, h); err != nil {
		c.log().Error("address rewriting failed", "queue_id", env.ID, "err", err)
		return dsn.TempPolicy
	}
	c.addMissing(env, h)
	if len(env.Recipients) == 0 {
		return dsn.NoRecipients.WithText("Error: no recipient addresses found")
	}
	return nil
}

func (c *Cleanup) policy(ctx context.Context, m *policy.Message) (policy.Verdict, error) {
	if c.Policy == nil {
		return policy.Verdict{Action: policy.Accept}, nil
	}
	v, err := c.Policy.Cleanup(ctx, m)
	if err != nil {
		return v, err
	}
	if v.Action == policy.Reject && (v.Status == nil || v.Status.OK()) {
		return v, errors.New("reject verdict without a 4xx/5xx status")
	}
	return v, nil
}

// finish writes the message according to the verdict.
func (c *Cleanup) finish(env *queue.Envelope, h *textproto.Header, v policy.Verdict,
	first []byte, body io.Reader) (queue.ID, error) {
	switch v.Action {
	case policy.Reject:
		c.log().Info("reject by cleanup policy", "queue_id", env.ID, "status", v.Status.Error(), "generation", v.Generation)
		return env.ID, v.Status
	case policy.Discard:
		c.log().Info("discard by cleanup policy", "queue_id", env.ID, "reason", v.Reason, "generation", v.Generation)
		return env.ID, nil
	}
	if len(env.Recipients) == 0 {
		return env.ID, dsn.NoRecipients
	}
	state := queue.Incoming
	if v.Action == policy.Hold {
		state, env.HoldReason = queue.Hold, orDefault(v.Reason, "held by policy")
	}
	msg, err := c.write(state, env, h, first, body)
	if err != nil {
		return env.ID, err
	}
	switch {
	case msg != nil:
		c.logQueued(env, queue.Active)
		c.Handoff.Adopt(msg)
	default:
		c.logQueued(env, state)
		if state == queue.Incoming {
			c.notify(env)
		}
	}
	return env.ID, nil
}

// write commits the message in state; new mail the queue manager has
// room for goes straight into active/ and is returned open for Adopt.
func (c *Cleanup) write(state queue.State, env *queue.Envelope, h *textproto.Header, first []byte, body io.Reader) (*queue.Message, error) {
	w, err := c.Store.Create(state, env, c.SizeLimit)
	if err != nil {
		return nil, c.storeError(env, err)
	}
	err = textproto.WriteHeader(w, *h)
	if err == nil && first != nil {
		_, err = w.Write(first)
	}
	if err == nil {
		_, err = bufpool.Copy(w, body)
	}
	if err != nil {
		w.Abort()
		return nil, c.storeError(env, err)
	}
	if state == queue.Incoming && c.Handoff != nil && c.Handoff.Reserve() {
		msg, err := w.CommitActive()
		if err != nil {
			c.Handoff.Unreserve()
			return nil, c.storeError(env, err)
		}
		return msg, nil
	}
	if err := w.Commit(); err != nil {
		return nil, c.storeError(env, err)
	}
	return nil, nil
}

func (c *Cleanup) storeError(env *queue.Envelope, err error) error {
	switch {
	case errors.Is(err, queue.ErrTooBig):
		c.log().Info("reject: message too big", "queue_id", env.ID, "limit", c.SizeLimit)
		return dsn.MessageTooBig
	case errors.Is(err, queue.ErrNoSpace):
		c.log().Error("queue file write error: disk full", "queue_id", env.ID, "err", err)
		return dsn.DiskFull
	}
	c.log().Error("queue file write error", "queue_id", env.ID, "err", err)
	return dsn.TempLocal
}

// Received counts the messages committed since start, by client protocol
// class: "smtp" (any SMTP variant), "local" (sendmail, notices), "http".
func (c *Cleanup) Received() map[string]int64 {
	return map[string]int64{"smtp": c.received[0].Load(), "local": c.received[1].Load(), "http": c.received[2].Load()}
}

func (c *Cleanup) logQueued(env *queue.Envelope, state queue.State) {
	switch p := env.Client.Proto; {
	case p == "HTTP":
		c.received[2].Add(1)
	case strings.Contains(p, "SMTP"):
		c.received[0].Add(1)
	default:
		c.received[1].Add(1)
	}
	if !c.log().Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	c.log().Info(fmt.Sprintf("%s: from=<%s>, size=%d, nrcpt=%d (queue %s)",
		env.ID, env.Sender, env.Size, len(env.Recipients), state),
		"queue_id", env.ID, "from", env.Sender, "size", env.Size, "nrcpt", len(env.Recipients), "queue", string(state))
}

func (c *Cleanup) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cleanup) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Cleanup) headerLimit() int {
	if c.HeaderLimit > 0 {
		return c.HeaderLimit
	}
	return 102400
}

func (c *Cleanup) hopLimit() int {
	if c.HopLimit > 0 {
		return c.HopLimit
	}
	return 50
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// notify announces a message committed to incoming/ to the queue manager.
func (c *Cleanup) notify(env *queue.Envelope) {
	switch {
	case c.NotifyTenant != nil:
		c.NotifyTenant(env.ID, env.Tenant)
	case c.Notify != nil:
		c.Notify(env.ID)
	}
}
