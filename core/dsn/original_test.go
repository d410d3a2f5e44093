package dsn

import (
	"strings"
	"testing"
)

const smallOriginal = "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hello\r\n\r\nHi Bob.\r\n"

func TestReturnedOriginal(t *testing.T) {
	big := smallOriginal + strings.Repeat("padding line\r\n", 5000)
	cases := []struct {
		name     string
		kind     Kind
		ret      string
		orig     string
		limit    int64
		wantType string
		wantBody string
	}{
		{"failure default returns all", Failure, "", smallOriginal, 0, "message/rfc822", smallOriginal},
		{"RET=FULL", Failure, "FULL", smallOriginal, 0, "message/rfc822", smallOriginal},
		{"RET=HDRS", Failure, "HDRS", smallOriginal, 0, "text/rfc822-headers", smallHeaders()},
		{"ret case-insensitive", Failure, "hdrs", smallOriginal, 0, "text/rfc822-headers", smallHeaders()},
		{"oversize is headers only", Failure, "FULL", big, 0, "text/rfc822-headers", smallHeaders()},
		{"exactly the limit fits", Failure, "", smallOriginal, int64(len(smallOriginal)), "message/rfc822", smallOriginal},
		{"one byte over", Failure, "", smallOriginal, int64(len(smallOriginal)) - 1, "text/rfc822-headers", smallHeaders()},
		{"delay: headers only", Delay, "FULL", smallOriginal, 0, "text/rfc822-headers", smallHeaders()},
		{"success: headers only", Success, "", smallOriginal, 0, "text/rfc822-headers", smallHeaders()},
		{"LF becomes CRLF", Failure, "", strings.ReplaceAll(smallOriginal, "\r\n", "\n"), 0, "message/rfc822", smallOriginal},
		{"headers-only message", Failure, "HDRS", "Subject: x\r\nFrom: a@b", 0, "text/rfc822-headers", "Subject: x\r\nFrom: a@b\r\n"},
		{"header cut at limit drops partial field", Failure, "", "Subject: x\r\nFrom: a@b\r\nX-Long: " +
			strings.Repeat("y", 100), 40, "text/rfc822-headers", "Subject: x\r\nFrom: a@b\r\n"},
	}
	for _, c := range cases {
		n := &Notification{Kind: c.kind, Ret: c.ret, Original: strings.NewReader(c.orig), SizeLimit: c.limit}
		r, err := returnedOriginal(n)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.ctype != c.wantType || string(r.body) != c.wantBody {
			t.Errorf("%s: got %s %q, want %s %q", c.name, r.ctype, r.body, c.wantType, c.wantBody)
		}
	}
	if r, err := returnedOriginal(&Notification{Kind: Failure}); r != nil || err != nil {
		t.Errorf("nil original: %v, %v", r, err)
	}
}

func smallHeaders() string {
	return smallOriginal[:strings.Index(smallOriginal, "\r\n\r\n")+2]
}

func TestReturnedOriginalTypes(t *testing.T) {
	cases := []struct {
		orig, ret      string
		ctype          string
		eightBit       bool
		wantDescSuffix string
	}{
		{"Subject: x\r\n\r\nbody caf\xc3\xa9\r\n", "", "message/rfc822", true, "Message"},
		{"Subject: caf\xc3\xa9\r\n\r\nbody\r\n", "", "message/global", true, "Message"},
		{"Subject: caf\xc3\xa9\r\n\r\nbody\r\n", "HDRS", "message/global-headers", true, "Headers"},
		{"Subject: x\r\n\r\nbody caf\xc3\xa9\r\n", "HDRS", "text/rfc822-headers", false, "Headers"},
	}
	for _, c := range cases {
		r, _ := returnedOriginal(&Notification{Kind: Failure, Ret: c.ret, Original: strings.NewReader(c.orig)})
		if r.ctype != c.ctype || EightBit(r.body) != c.eightBit || !strings.HasSuffix(r.desc, c.wantDescSuffix) {
			t.Errorf("%q RET=%s: %s eightBit=%v desc=%q", c.orig, c.ret, r.ctype, EightBit(r.body), r.desc)
		}
	}
}
