package cleanup

import (
	"bytes"
	"context"
	"io"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// content is the message after its header: streamed once (first, then
// r), or, when it must be read more than once to verify or sign it,
// buffered in a spill.
type content struct {
	first []byte
	r     io.Reader
	sp    *spill
}

// buffer makes the content re-readable.
func (c *Cleanup) buffer(ct *content) error {
	if ct.sp != nil {
		return nil
	}
	sp, err := readSpill(c.Store.Root(), io.MultiReader(bytes.NewReader(ct.first), ct.r), c.SizeLimit)
	ct.sp, ct.first = sp, nil
	return err
}

// parts is what finish writes after the header.
func (ct *content) parts() ([]byte, io.Reader) {
	if ct.sp != nil {
		return nil, ct.sp.Reader()
	}
	return ct.first, ct.r
}

// verify checks inbound mail and stamps its Authentication-Results on h,
// before the cleanup policy runs so scripts see both.
func (c *Cleanup) verify(ctx context.Context, env *queue.Envelope, h *textproto.Header, ct *content) (*policy.AuthResults, *dsn.Status) {
	if c.Verify == nil || !c.Verify.Applies(env) {
		return nil, nil
	}
	if err := c.buffer(ct); err != nil {
		return nil, c.storeError(env, err).(*dsn.Status)
	}
	res := c.Verify.Check(ctx, env, h, ct.sp.Reader())
	c.Verify.Stamp(h, res)
	return res, nil
}

// sign adds the DKIM signatures the policy (or the default) asks for, on
// top of the final header, so the signed bytes are the queued bytes.
func (c *Cleanup) sign(ctx context.Context, env *queue.Envelope, h *textproto.Header, choice *policy.DKIMChoice, ct *content, forward bool) *dsn.Status {
	if c.DKIM == nil {
		return nil
	}
	if st := c.signDKIM(ctx, env, h, choice, ct); st != nil {
		return st
	}
	if forward && c.DKIM.SealsARC() {
		return c.seal(env, h, ct)
	}
	return nil
}

// seal adds an ARC set to a forwarded message. Sealing is best effort:
// a message that cannot be sealed is forwarded as it is, with a
// warning; only a failure to buffer the body (whose reader is then
// spent) fails the submission.
func (c *Cleanup) seal(env *queue.Envelope, h *textproto.Header, ct *content) *dsn.Status {
	if err := c.buffer(ct); err != nil {
		return c.storeError(env, err).(*dsn.Status)
	}
	if err := c.DKIM.Seal(h, ct.sp.Reader()); err != nil {
		c.log().Warn("arc: not sealed", "queue_id", env.ID, "err", err)
		return nil
	}
	c.log().Info("arc sealed", "queue_id", env.ID, "domain", c.DKIM.ARCDomain, "selector", c.DKIM.ARCSelector)
	return nil
}

// signDKIM makes the DKIM signatures the policy or the default asks for.
func (c *Cleanup) signDKIM(ctx context.Context, env *queue.Envelope, h *textproto.Header, choice *policy.DKIMChoice, ct *content) *dsn.Status {
	keys, err := c.DKIM.Plan(env, h, choice)
	if err != nil {
		c.log().Error("dkim signing failed", "queue_id", env.ID, "err", err)
		return dsn.TempPolicy
	}
	if len(keys) == 0 {
		return nil
	}
	if err := c.buffer(ct); err != nil {
		return c.storeError(env, err).(*dsn.Status)
	}
	sigs, err := c.DKIM.Sign(ctx, keys, h, ct.sp.Reader())
	if err != nil {
		c.log().Error("dkim signing failed", "queue_id", env.ID, "err", err)
		return dsn.TempPolicy
	}
	for i := len(sigs) - 1; i >= 0; i-- {
		h.AddRaw([]byte(sigs[i]))
	}
	for _, k := range keys {
		c.log().Info("dkim signed", "queue_id", env.ID, "domain", k.Domain, "selector", k.Selector, "algorithm", k.Algorithm())
	}
	return nil
}
