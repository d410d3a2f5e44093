package dsn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/emersion/go-smtp"
)

func TestTableIsConsistent(t *testing.T) {
	for name, st := range All {
		if st.Code < 200 || st.Code > 599 {
			t.Errorf("%s: code %d out of range", name, st.Code)
		}
		if st.Enhanced[0] != st.Code/100 {
			t.Errorf("%s: %d with enhanced %s: classes disagree", name, st.Code, st.Enhanced)
		}
		if st.Text == "" {
			t.Errorf("%s: empty text", name)
		}
	}
}

func TestNewKeepsClass(t *testing.T) {
	cases := []struct {
		code     int
		enhanced string
		want     string
	}{
		{451, "4.3.0", "4.3.0"},
		{451, "5.7.1", "4.0.0"}, // a 4xx never carries a permanent enhanced code
		{550, "4.1.1", "5.0.0"},
		{550, "5.1.1", "5.1.1"},
		{250, "", "2.0.0"},
		{550, "garbage", "5.0.0"},
		{552, "5.3.4.1", "5.0.0"},
	}
	for _, c := range cases {
		st := New(c.code, c.enhanced, "x")
		if got := st.Enhanced.String(); got != c.want {
			t.Errorf("New(%d, %q) enhanced = %s, want %s", c.code, c.enhanced, got, c.want)
		}
	}
}

func TestClassPredicates(t *testing.T) {
	for _, c := range []struct {
		code            int
		ok, temp, perma bool
	}{{250, true, false, false}, {421, false, true, false}, {452, false, true, false}, {554, false, false, true}} {
		st := New(c.code, "", "t")
		if st.OK() != c.ok || st.Temporary() != c.temp || st.Permanent() != c.perma {
			t.Errorf("%d: ok=%v temp=%v perm=%v", c.code, st.OK(), st.Temporary(), st.Permanent())
		}
	}
}

func TestFromError(t *testing.T) {
	if FromError(nil) != nil {
		t.Fatal("nil must stay nil")
	}
	if got := FromError(errors.New("disk exploded")); got != TempLocal {
		t.Errorf("plain error = %v, want TempLocal", got)
	}
	wrapped := fmt.Errorf("rcpt: %w", UnknownUser)
	if got := FromError(wrapped); got != UnknownUser {
		t.Errorf("wrapped status = %v", got)
	}
	se := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no"}
	if got := FromError(se); got.Code != 550 || got.Enhanced != (Enhanced{5, 1, 1}) {
		t.Errorf("smtp error = %v", got)
	}
	noEnh := &smtp.SMTPError{Code: 421, EnhancedCode: smtp.NoEnhancedCode, Message: "bye"}
	if got := FromError(noEnh); got.Enhanced != (Enhanced{4, 0, 0}) {
		t.Errorf("missing enhanced code = %v", got)
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, st := range All {
		got, ok := Parse(st.Error())
		if !ok || *got != *st {
			t.Errorf("Parse(%q) = %v, %v", st.Error(), got, ok)
		}
	}
	for _, bad := range []string{"", "abc", "99 2.0.0 x", "700 7.0.0 x"} {
		if _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	got, ok := Parse("550 no enhanced code here")
	if !ok || got.Enhanced != (Enhanced{5, 0, 0}) || got.Text != "no enhanced code here" {
		t.Errorf("Parse without enhanced = %+v", got)
	}
}

func TestTextIsOneLine(t *testing.T) {
	st := New(550, "5.7.1", "evil\r\nRCPT TO:<x>")
	if st.Text != "evil  RCPT TO:<x>" {
		t.Errorf("text = %q", st.Text)
	}
}

// TestSMTPServerReplies pins the codes core/smtpd answers protocol errors
// with: sequencing is 503, syntax 500/501, AUTH per RFC 4954.
func TestSMTPServerReplies(t *testing.T) {
	want := map[*Status]string{
		NeedHelo: "503 5.5.1", NeedMail: "503 5.5.1", NeedRcpt: "503 5.5.1",
		UnknownCommand: "500 5.5.2", LineTooLong: "500 5.5.0",
		AuthRequired: "530 5.7.0", AuthDisabled: "503 5.5.1", AuthTemp: "454 4.7.0",
		AuthFailed: "535 5.7.8", RelayDenied: "554 5.7.1", TooManyRcpts: "452 4.5.3",
		MessageTooBig: "552 5.3.4",
	}
	for st, w := range want {
		if got := fmt.Sprintf("%d %s", st.Code, st.Enhanced); got != w {
			t.Errorf("%q = %s, want %s", st.Text, got, w)
		}
	}
}

// TestLimitAndConfigCodes pins the codes whose choice is easy to get
// wrong: a per-recipient size limit is 5.2.3 (5.3.4 is the system's), a
// transport option the agent does not understand defers with 4.3.5.
func TestLimitAndConfigCodes(t *testing.T) {
	for _, c := range []struct {
		st       *Status
		code     int
		enhanced string
	}{
		{RcptTooBig, 552, "5.2.3"}, {MessageTooBig, 552, "5.3.4"}, {ConfigError, 451, "4.3.5"},
	} {
		if c.st.Code != c.code || c.st.Enhanced.String() != c.enhanced {
			t.Errorf("%s: want %d %s", c.st.Error(), c.code, c.enhanced)
		}
	}
	if !ConfigError.Temporary() || !RcptTooBig.Permanent() {
		t.Error("ConfigError must defer and RcptTooBig bounce")
	}
}
