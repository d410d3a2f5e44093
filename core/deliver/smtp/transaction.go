package smtp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// Statuses for content the peer cannot take. The codes are Postfix's.
var (
	needSMTPUTF8 = dsn.New(550, "5.6.7", "SMTPUTF8 is required, but was not offered by host")
	need8BitMIME = dsn.New(554, "5.6.3", "8-bit content, but host does not offer 8BITMIME")
)

// errBroken means the session failed before the peer accepted MAIL:
// nothing was decided, so the caller may try another connection.
var errBroken = errors.New("session broken before MAIL was accepted")

// transact runs one mail transaction on s and fills res, one entry per
// recipient. It returns errBroken (res untouched) when the session died
// before MAIL was accepted, and reusable=false when the session must not
// be cached afterwards.
func (a *Agent) transact(ctx context.Context, s *session, req *deliver.Request, res []deliver.Result) (reusable bool, err error) {
	stop := context.AfterFunc(ctx, func() { s.raw.Close() })
	defer func() {
		if !stop() { // ctx ended mid-session: the connection is gone
			reusable = false
		}
	}()
	if st := a.checkPeer(s, req); st != nil {
		fill(res, st, s.relay)
		return true, nil
	}
	if has(s, "PIPELINING") {
		return a.transactPipelined(s, req, res)
	}
	if s.used {
		if err := s.c.Reset(); err != nil {
			return false, fmt.Errorf("%w: RSET: %v", errBroken, err)
		}
	}
	s.used = true
	if err := s.c.Mail(req.Sender, a.mailOptions(s, req)); err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			return false, fmt.Errorf("%w: MAIL: %v", errBroken, err)
		}
		fill(res, dsn.FromSMTP(se.Code, se.EnhancedCode, se.Message), s.relay)
		return se.Code != 421, nil
	}
	accepted, alive := a.rcpts(s, req, res)
	if !alive {
		return false, nil
	}
	if len(accepted) == 0 {
		return s.c.Reset() == nil, nil
	}
	return a.data(s, req, res, accepted), nil
}

// checkPeer refuses, before MAIL, what the peer said it cannot take.
func (a *Agent) checkPeer(s *session, req *deliver.Request) *dsn.Status {
	if max, ok := s.c.MaxMessageSize(); ok && max > 0 && req.Content.Size() > int64(max) {
		return dsn.MessageTooBig.WithText(fmt.Sprintf(
			"message size %d exceeds size limit %d of server %s", req.Content.Size(), max, s.relay))
	}
	if req.SMTPUTF8 && !has(s, "SMTPUTF8") && !envelopeASCII(req) {
		return needSMTPUTF8.WithText(needSMTPUTF8.Text + " " + s.relay)
	}
	if strings.EqualFold(req.BodyType, "8BITMIME") && !has(s, "8BITMIME") {
		return need8BitMIME.WithText("8-bit content, but host " + s.relay + " does not offer 8BITMIME")
	}
	return nil
}

func has(s *session, ext string) bool {
	ok, _ := s.c.Extension(ext)
	return ok
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

// rcpts sends RCPT for each recipient and records refusals. It returns
// the indexes accepted, and alive=false when the connection is lost or
// closing (421), in which case every recipient without a result, and
// every accepted one, is given a temporary failure.
func (a *Agent) rcpts(s *session, req *deliver.Request, res []deliver.Result) (accepted []int, alive bool) {
	for i, r := range req.Recipients {
		err := s.c.Rcpt(r.Addr, rcptOptions(r))
		if err == nil {
			accepted = append(accepted, i)
			continue
		}
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			st := ioStatus(s.relay, "sending RCPT TO", err)
			fillFrom(res, accepted, i, len(req.Recipients), st, s.relay)
			return nil, false
		}
		st := dsn.FromSMTP(se.Code, se.EnhancedCode, se.Message)
		res[i] = deliver.Result{Status: st, Relay: s.relay}
		if se.Code == 421 {
			fillFrom(res, accepted, i+1, len(req.Recipients), st, s.relay)
			return nil, false
		}
	}
	return accepted, true
}

// data sends the content and gives the final reply to every accepted
// recipient. It reports whether the session may be reused.
func (a *Agent) data(s *session, req *deliver.Request, res []deliver.Result, accepted []int) bool {
	w, err := s.c.Data()
	if err != nil {
		return a.dataFailed(s, res, accepted, "sending DATA", err)
	}
	// go-smtp sets no deadline while the body is written; without one a
	// peer that stops reading would hold us until ctx ends.
	_ = s.raw.SetDeadline(time.Now().Add(a.cfg.DataTimeout))
	fw := foldLines(w, a.cfg.LineLengthLimit)
	_, err = bufpool.Copy(fw, req.Content.Open())
	if err == nil {
		err = flushFolder(fw)
	}
	_ = s.raw.SetDeadline(time.Time{})
	if err != nil {
		return a.dataFailed(s, res, accepted, "sending message body", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return a.dataFailed(s, res, accepted, "sending end of data", err)
	}
	st := dsn.New(250, "2.0.0", resp.StatusText)
	if code, text, ok := strings.Cut(resp.StatusText, " "); ok {
		if e, good := dsn.ParseEnhanced(code); good && e[0] == 2 {
			st = dsn.New(250, code, text)
		}
	}
	for _, i := range accepted {
		res[i] = deliver.Result{Status: st, Relay: s.relay}
	}
	return true
}

// dataFailed gives the accepted recipients the peer's reply, or a
// deferral when the connection broke: after the final dot the message
// may have been delivered, and a duplicate beats a loss.
func (a *Agent) dataFailed(s *session, res []deliver.Result, accepted []int, stage string, err error) bool {
	var se *smtp.SMTPError
	st := ioStatus(s.relay, stage, err)
	if errors.As(err, &se) {
		st = dsn.FromSMTP(se.Code, se.EnhancedCode, se.Message)
	}
	for _, i := range accepted {
		res[i] = deliver.Result{Status: st, Relay: s.relay}
	}
	return se != nil && se.Code != 421
}

// fill gives every recipient the same outcome.
func fill(res []deliver.Result, st *dsn.Status, relay string) {
	for i := range res {
		res[i] = deliver.Result{Status: st, Relay: relay}
	}
}

// fillFrom gives st to the accepted recipients and to those from index
// from on, which were never tried.
func fillFrom(res []deliver.Result, accepted []int, from, n int, st *dsn.Status, relay string) {
	for _, i := range accepted {
		res[i] = deliver.Result{Status: st, Relay: relay}
	}
	for i := from; i < n; i++ {
		res[i] = deliver.Result{Status: st, Relay: relay}
	}
}
