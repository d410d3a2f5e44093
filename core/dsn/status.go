package dsn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// Enhanced is an RFC 3463 enhanced status code: class.subject.detail.
type Enhanced [3]int

// String formats the code as "4.3.0".
func (e Enhanced) String() string {
	return fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
}

// ParseEnhanced reads "x.y.z"; it reports false for anything else.
func ParseEnhanced(s string) (Enhanced, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Enhanced{}, false
	}
	var e Enhanced
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || len(p) > 3 {
			return Enhanced{}, false
		}
		e[i] = n
	}
	if e[0] != 2 && e[0] != 4 && e[0] != 5 {
		return Enhanced{}, false
	}
	return e, true
}

// Status is the result of any mail operation: a policy verdict, a delivery
// attempt, a queue write. It implements error so it can travel through Go
// error returns; use FromError to get it back.
type Status struct {
	Code     int      // SMTP reply code, 200..599
	Enhanced Enhanced // RFC 3463 code; its class matches Code's
	Text     string   // human text, one line, no CR/LF
}

// New builds a Status. An enhanced code that does not parse or whose class
// disagrees with code is replaced by the class default (x.0.0), so a
// mistyped script verdict cannot turn a temporary failure permanent.
func New(code int, enhanced, text string) *Status {
	e, ok := ParseEnhanced(enhanced)
	if !ok || e[0] != code/100 {
		e = Enhanced{code / 100, 0, 0}
	}
	return &Status{Code: code, Enhanced: e, Text: oneLine(text)}
}

// Error formats the status like an SMTP reply: "451 4.3.0 text".
func (s *Status) Error() string {
	return fmt.Sprintf("%d %s %s", s.Code, s.Enhanced, s.Text)
}

// OK reports a 2xx success.
func (s *Status) OK() bool { return s.Code/100 == 2 }

// Temporary reports a 4xx result: try again later.
func (s *Status) Temporary() bool { return s.Code/100 == 4 }

// Permanent reports a 5xx result: give up and bounce.
func (s *Status) Permanent() bool { return s.Code/100 == 5 }

// WithText returns a copy with a different text, keeping the codes.
func (s *Status) WithText(text string) *Status {
	c := *s
	c.Text = oneLine(text)
	return &c
}

// SMTPError converts to the go-smtp reply type.
func (s *Status) SMTPError() *smtp.SMTPError {
	return &smtp.SMTPError{
		Code:         s.Code,
		EnhancedCode: smtp.EnhancedCode(s.Enhanced),
		Message:      s.Text,
	}
}

// FromError returns the Status inside err. A go-smtp SMTPError is
// converted; any other non-nil error is an internal fault and becomes
// TempLocal (451 4.3.0), never a permanent failure. nil gives nil.
func FromError(err error) *Status {
	if err == nil {
		return nil
	}
	var st *Status
	if errors.As(err, &st) {
		return st
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return FromSMTP(se.Code, se.EnhancedCode, se.Message)
	}
	return TempLocal
}

// FromSMTP builds a Status from a remote server's reply. A missing enhanced
// code (go-smtp reports NoEnhancedCode) gets the class default.
func FromSMTP(code int, e smtp.EnhancedCode, text string) *Status {
	if e == smtp.NoEnhancedCode || e[0] != code/100 {
		return New(code, "", text)
	}
	return &Status{Code: code, Enhanced: Enhanced(e), Text: oneLine(text)}
}

// Parse reads "451 4.3.0 text" (the Error form) back into a Status, as
// stored in queue files. It reports false for malformed input.
func Parse(s string) (*Status, bool) {
	codeStr, rest, _ := strings.Cut(s, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || code < 200 || code > 599 {
		return nil, false
	}
	enh, text, _ := strings.Cut(rest, " ")
	if e, ok := ParseEnhanced(enh); ok && e[0] == code/100 {
		return &Status{Code: code, Enhanced: e, Text: oneLine(text)}, true
	}
	return New(code, "", rest), true
}

// oneLine keeps texts safe to put in an SMTP reply or a queue record.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}
