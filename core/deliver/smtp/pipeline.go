package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// writeBufSize is the connection's write buffer for pipelined
// transactions.
const writeBufSize = 32 << 10

// transactPipelined runs one mail transaction with RFC 2920 pipelining:
// RSET (on a reused connection), MAIL, every RCPT and DATA go out in one
// write and their replies are read in order; then the body. Against a
// relay that is two round trips per message instead of four or more,
// which is most of the client's cost in system calls and waiting.
func (a *Agent) transactPipelined(s *session, req *deliver.Request, res []deliver.Result) (reusable bool, err error) {
	if s.tp == nil {
		s.tp = textproto.NewConn(s.conn)
		// Whole messages of up to 32 KiB go out in one write(2), not in
		// 4 KiB pieces.
		s.tp.Writer.W = bufio.NewWriterSize(s.conn, writeBufSize)
	}
	rset, err := a.sendEnvelope(s, req)
	if err != nil {
		return false, fmt.Errorf("%w: sending envelope: %v", errBroken, err)
	}
	accepted, dataOK, err := a.envelopeReplies(s, req, res, rset)
	if err != nil {
		return false, err
	}
	if !dataOK {
		return true, nil
	}
	if len(accepted) == 0 {
		// The peer took DATA though it refused every recipient: end the
		// empty transaction, as RFC 2920 section 3.1 asks.
		return a.endEmptyData(s), nil
	}
	return a.pipelinedData(s, req, res, accepted), nil
}

// sendEnvelope writes the pipelined commands in one go; rset says
// whether it began with RSET (every transaction after a connection's
// first).
func (a *Agent) sendEnvelope(s *session, req *deliver.Request) (rset bool, err error) {
	w := s.tp.Writer.W
	rset = s.used
	if rset {
		w.WriteString("RSET\r\n")
	}
	s.used = true
	w.WriteString("MAIL FROM:<" + req.Sender + ">" + a.mailParams(s, req) + "\r\n")
	for _, r := range req.Recipients {
		w.WriteString("RCPT TO:<" + r.Addr + ">" + rcptParams(s, r) + "\r\n")
	}
	w.WriteString("DATA\r\n")
	s.conn.SetWriteDeadline(time.Now().Add(a.cfg.CommandTimeout))
	return rset, w.Flush()
}

// envelopeReplies reads the replies in command order. It fills res for
// refused recipients (or all of them when MAIL is refused), returns the
// accepted indexes and whether DATA was answered with 354. err means the
// connection is unusable; res is then complete.
func (a *Agent) envelopeReplies(s *session, req *deliver.Request, res []deliver.Result, rset bool) (accepted []int, dataOK bool, err error) {
	if rset {
		if _, err := a.reply(s, "RSET"); err != nil {
			fill(res, ioStatus(s.relay, "RSET", err), s.relay)
			return nil, false, fmt.Errorf("%w: RSET: %v", errBroken, err)
		}
	}
	mail, err := a.reply(s, "MAIL FROM")
	if err != nil {
		fill(res, ioStatus(s.relay, "sending MAIL FROM", err), s.relay)
		return nil, false, fmt.Errorf("%w: MAIL: %v", errBroken, err)
	}
	for i := range req.Recipients {
		st, err := a.reply(s, "RCPT TO")
		if err != nil {
			fill(res, ioStatus(s.relay, "sending RCPT TO", err), s.relay)
			return nil, false, fmt.Errorf("%w: RCPT: %v", errBroken, err)
		}
		switch {
		case !mail.OK():
			res[i] = deliver.Result{Status: mail, Relay: s.relay}
		case st.OK():
			accepted = append(accepted, i)
		default:
			res[i] = deliver.Result{Status: st, Relay: s.relay}
		}
	}
	data, err := a.reply(s, "DATA")
	if err != nil {
		fillFrom(res, accepted, len(req.Recipients), len(req.Recipients), ioStatus(s.relay, "sending DATA", err), s.relay)
		return nil, false, fmt.Errorf("%w: DATA: %v", errBroken, err)
	}
	if data.Code != 354 {
		for _, i := range accepted {
			res[i] = deliver.Result{Status: data, Relay: s.relay}
		}
		if mail.Code == 421 || data.Code == 421 {
			return nil, false, fmt.Errorf("%w: peer closing: %s", errBroken, data.Error())
		}
		return nil, false, nil
	}
	return accepted, true, nil
}

// reply reads one reply with the command timeout.
func (a *Agent) reply(s *session, cmd string) (*dsn.Status, error) {
	s.conn.SetReadDeadline(time.Now().Add(a.cfg.CommandTimeout))
	code, msg, err := s.tp.ReadResponse(0)
	var te *textproto.Error
	if err != nil && !errors.As(err, &te) {
		return nil, err
	}
	if code < 200 || code > 599 {
		return nil, fmt.Errorf("%s: unexpected reply %d %q", cmd, code, msg)
	}
	return replyToStatus(code, msg), nil
}

// replyToStatus reads an enhanced status code at the start of the text.
func replyToStatus(code int, msg string) *dsn.Status {
	msg = strings.ReplaceAll(msg, "\n", " ")
	if enh, text, ok := strings.Cut(msg, " "); ok {
		if e, good := dsn.ParseEnhanced(enh); good && e[0] == code/100 {
			return dsn.New(code, enh, text)
		}
	}
	return dsn.New(code, "", msg)
}

// pipelinedData sends the body and gives the final reply to the
// accepted recipients. After the final dot a broken connection defers:
// the message may have been delivered, and a duplicate beats a loss.
func (a *Agent) pipelinedData(s *session, req *deliver.Request, res []deliver.Result, accepted []int) bool {
	s.conn.SetWriteDeadline(time.Now().Add(a.cfg.DataTimeout))
	dw := &dotWriter{w: s.tp.Writer.W}
	fw := foldLines(dw, a.cfg.LineLengthLimit)
	_, err := bufpool.Copy(fw, req.Content.Open())
	if err == nil {
		err = flushFolder(fw)
	}
	if err == nil {
		err = dw.Close()
	}
	if err != nil {
		setAll(res, accepted, ioStatus(s.relay, "sending message body", err), s.relay)
		return false
	}
	s.conn.SetReadDeadline(time.Now().Add(a.cfg.DataTimeout))
	st, err := a.reply(s, "end of data")
	if err != nil {
		setAll(res, accepted, ioStatus(s.relay, "sending end of data", err), s.relay)
		return false
	}
	setAll(res, accepted, st, s.relay)
	return st.Code != 421
}

// endEmptyData ends a DATA the peer accepted with nothing to send.
func (a *Agent) endEmptyData(s *session) bool {
	s.tp.Writer.W.WriteString(".\r\n")
	if s.tp.Writer.W.Flush() != nil {
		return false
	}
	_, err := a.reply(s, "end of data")
	return err == nil
}

func setAll(res []deliver.Result, idx []int, st *dsn.Status, relay string) {
	for _, i := range idx {
		res[i] = deliver.Result{Status: st, Relay: relay}
	}
}

// mailParams formats MAIL FROM's parameters, each only where the peer
// offers its extension, as go-smtp's client does.
func (a *Agent) mailParams(s *session, req *deliver.Request) string {
	var b strings.Builder
	if has(s, "SIZE") {
		b.WriteString(" SIZE=" + strconv.FormatInt(req.Content.Size(), 10))
	}
	if body := strings.ToUpper(req.BodyType); has(s, "8BITMIME") && (body == "8BITMIME" || body == "7BIT") {
		b.WriteString(" BODY=" + body)
	}
	if req.SMTPUTF8 && has(s, "SMTPUTF8") {
		b.WriteString(" SMTPUTF8")
	}
	if has(s, "DSN") {
		switch r := strings.ToUpper(req.Ret); r {
		case "FULL", "HDRS":
			b.WriteString(" RET=" + r)
		}
		if req.EnvID != "" && printableASCII(req.EnvID) {
			b.WriteString(" ENVID=" + xtext(req.EnvID))
		}
	}
	return b.String()
}

// rcptParams formats RCPT TO's DSN parameters where the peer offers DSN.
func rcptParams(s *session, r deliver.Recipient) string {
	if !has(s, "DSN") {
		return ""
	}
	opts := rcptOptions(r)
	var b strings.Builder
	if len(opts.Notify) > 0 {
		parts := make([]string, len(opts.Notify))
		for i, n := range opts.Notify {
			parts[i] = string(n)
		}
		b.WriteString(" NOTIFY=" + strings.Join(parts, ","))
	}
	if opts.OriginalRecipient != "" {
		b.WriteString(" ORCPT=" + string(opts.OriginalRecipientType) + ";" + xtext(opts.OriginalRecipient))
	}
	return b.String()
}

// xtext encodes an RFC 3461 xtext value.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
