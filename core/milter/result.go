package milter

import (
	"strconv"
	"strings"

	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/dsn"
)

// Result is one milter's answer about one message, as the Judge sees it
// and before it is applied.
type Result struct {
	Milter string // the milter's name
	// Action is "accept", "reject", "tempfail" or "discard". A milter's
	// custom reply is "reject" or "tempfail" by its class, with Status
	// holding its code and text.
	Action string
	Status *dsn.Status // the reply for reject and tempfail
	Phase  string      // where the action was given: connect, helo, mail, rcpt, data, header, eom
	Rcpt   string      // the recipient, for an answer at rcpt
	// Quarantine, when not "", puts the message on hold with this reason.
	Quarantine string
	// Edits are the milter's changes, applied in order when the message
	// is accepted.
	Edits []gomilter.ModifyAction
	// Failed says why the milter's default_action was taken ("" when it
	// answered).
	Failed string
}

// The replies for the milter verdicts without a text of their own, as
// Postfix words them.
var (
	Rejected  = &dsn.Status{Code: 550, Enhanced: dsn.Enhanced{5, 7, 1}, Text: "Command rejected"}
	Tempfail4 = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 7, 1}, Text: "Service unavailable - try again later"}
)

// fromAction turns a protocol action into a Result verdict.
func fromAction(r *Result, act *gomilter.Action) {
	switch act.Code {
	case gomilter.ActReject:
		r.Action, r.Status = "reject", Rejected
	case gomilter.ActTempFail:
		r.Action, r.Status = "tempfail", Tempfail4
	case gomilter.ActDiscard:
		r.Action = "discard"
	case gomilter.ActReplyCode:
		r.Status = replyStatus(act.SMTPCode, act.SMTPText)
		r.Action = "reject"
		if r.Status.Temporary() {
			r.Action = "tempfail"
		}
	default: // accept, continue, skip
		r.Action = "accept"
	}
}

// replyStatus builds the status of a custom reply ("554 5.7.1 Spam").
// A code that is not 4xx or 5xx is a protocol error, and Postfix answers
// it with a temporary failure; so does this.
func replyStatus(code int, text string) *dsn.Status {
	if code < 400 || code > 599 {
		return Tempfail4
	}
	text = strings.TrimSpace(text)
	// Multi-line replies come as "554-5.7.1 line\r\n554 5.7.1 last";
	// the last line is kept.
	if i := strings.LastIndex(text, "\n"); i >= 0 {
		text = strings.TrimSpace(text[i+1:])
		if c, rest, ok := strings.Cut(text, " "); ok && c == strconv.Itoa(code) {
			text = rest
		}
	}
	enh, rest, _ := strings.Cut(text, " ")
	if e, ok := dsn.ParseEnhanced(enh); ok && e[0] == code/100 {
		return &dsn.Status{Code: code, Enhanced: e, Text: orText(rest, code)}
	}
	return dsn.New(code, "", orText(text, code))
}

func orText(s string, code int) string {
	if s != "" {
		return s
	}
	if code/100 == 4 {
		return Tempfail4.Text
	}
	return Rejected.Text
}

// failure is the Result of a milter that did not answer properly.
func failure(name string, def DefaultAction, err error) *Result {
	r := &Result{Milter: name, Failed: err.Error(), Action: "accept"}
	switch def {
	case Tempfail:
		r.Action, r.Status = "tempfail", Tempfail4
	case Reject:
		r.Action, r.Status = "reject", Rejected
	}
	return r
}

// AddHeader is the edit that appends a header field, for a Judge that
// tags a message.
func AddHeader(name, value string) gomilter.ModifyAction {
	return gomilter.ModifyAction{Code: gomilter.ActAddHeader, HeaderName: name, HeaderValue: value}
}
