package smtp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

// Statuses for content the peer cannot take. The codes are Postfix's.
var (
	needSMTPUTF8 = dsn.New(550, "5.6.7", "SMTPUTF8 is required, but was not offered by host")
	need8BitMIME = dsn.New(554, "5.6.3", "8-bit content, but host does not offer 8BITMIME")
)

// errBroken means the session failed before the content was sent:
// nothing was delivered, so the caller may try another connection.
var errBroken = errors.New("session broken before the content was sent")

// tx is one mail transaction: the recipients it carries and their
// results, one entry each.
type tx struct {
	req *deliver.Request
	res []deliver.Result
	// unsure marks recipients deferred because the reply after the
	// final dot was lost: the peer may have the message, so they wait
	// for the next attempt rather than go to another host at once.
	unsure []bool
}

func newTx(req *deliver.Request) *tx {
	n := len(req.Recipients)
	return &tx{req: req, res: make([]deliver.Result, n), unsure: make([]bool, n)}
}

// set gives st to the recipients in idx.
func (t *tx) set(idx []int, st *dsn.Status, relay string) {
	for _, i := range idx {
		t.res[i] = deliver.Result{Status: st, Relay: relay}
	}
}

// fill gives st to every recipient.
func (t *tx) fill(st *dsn.Status, relay string) {
	for i := range t.res {
		t.res[i] = deliver.Result{Status: st, Relay: relay}
	}
}

// transact runs one mail transaction on s and fills t.res. It returns
// errBroken (t.res not to be used) when the session died before the
// content went out, and reusable=false when the session must not be
// cached afterwards.
func (a *Agent) transact(ctx context.Context, s *session, t *tx) (reusable bool, err error) {
	stop := context.AfterFunc(ctx, func() { s.raw.Close() })
	defer func() {
		if !stop() { // ctx ended mid-session: the connection is gone
			reusable = false
		}
	}()
	if st := a.checkPeer(s, t.req); st != nil {
		t.fill(st, s.relay)
		return true, nil
	}
	e, err := a.envelope(s, t)
	if err != nil {
		return false, fmt.Errorf("%w: %v", errBroken, err)
	}
	switch {
	case !e.dataOK:
		return !e.closing, nil
	case len(e.accepted) == 0:
		// The peer took DATA though it refused every recipient: end the
		// empty transaction, as RFC 2920 section 3.1 asks.
		return a.endEmptyData(s), nil
	}
	return a.data(s, t, e.accepted), nil
}

// checkPeer refuses, before MAIL, what the peer said it cannot take.
func (a *Agent) checkPeer(s *session, req *deliver.Request) *dsn.Status {
	if max := s.maxSize(); max > 0 && req.Content.Size() > max {
		return dsn.MessageTooBig.WithText(fmt.Sprintf(
			"message size %d exceeds size limit %d of server %s", req.Content.Size(), max, s.relay))
	}
	if req.SMTPUTF8 && !s.has("SMTPUTF8") && !envelopeASCII(req) {
		return needSMTPUTF8.WithText(needSMTPUTF8.Text + " " + s.relay)
	}
	if strings.EqualFold(req.BodyType, "8BITMIME") && !s.has("8BITMIME") {
		return need8BitMIME.WithText("8-bit content, but host " + s.relay + " does not offer 8BITMIME")
	}
	return nil
}

// maxSize is the peer's SIZE limit, 0 when it gave none.
func (s *session) maxSize() int64 {
	var n int64
	if p, ok := s.ext["SIZE"]; ok {
		fmt.Sscanf(p, "%d", &n)
	}
	return n
}

// envelopeASCII reports whether a message flagged SMTPUTF8 can still go
// to a peer without it: Postfix sends such mail when only headers are
// UTF-8, because the envelope is what the peer must parse.
func envelopeASCII(req *deliver.Request) bool {
	if !isASCII(req.Sender) {
		return false
	}
	for _, r := range req.Recipients {
		if !isASCII(r.Addr) {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
