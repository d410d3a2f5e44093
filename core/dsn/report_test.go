package dsn

import (
	"bytes"
	"strings"
	"testing"
)

// foreignReport is a bounce in the shape another MTA (Postfix) sends:
// LF line endings, a quoted-printable text part, extra X- fields.
const foreignReport = `From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: alice@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="8A1B2C3D.1714560000/mx.example.net"

This is a MIME-encapsulated message.

--8A1B2C3D.1714560000/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. Caf=E9.

--8A1B2C3D.1714560000/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 8A1B2C3D
X-Postfix-Sender: rfc822; alice@example.com
Arrival-Date: Wed,  1 May 2024 10:00:00 +0200 (CEST)

Final-Recipient: rfc822; bob@example.net
Original-Recipient: rfc822;bob@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: X-Postfix; unknown user: "bob"

--8A1B2C3D.1714560000/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Subject: hi
From: alice@example.com

--8A1B2C3D.1714560000/mx.example.net--
`

func TestParseForeignReport(t *testing.T) {
	rep, err := ParseReport(strings.NewReader(foreignReport))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Message.ReportingMTA != (Typed{"dns", "mx.example.net"}) || rep.Message.Fields["X-Postfix-Queue-Id"] != "8A1B2C3D" ||
		rep.Message.Arrival.Unix() != 1714550400 {
		t.Errorf("per-message: %+v", rep.Message)
	}
	r := rep.Recipients[0]
	if r.Final.Value != "bob@example.net" || r.Diagnostic != (Typed{"x-postfix", `unknown user: "bob"`}) {
		t.Errorf("recipient: %+v", r)
	}
	// Unknown charset: kept undecoded, quoted-printable still undone.
	if !strings.Contains(rep.Text, "Caf\xe9.") {
		t.Errorf("text %q", rep.Text)
	}
	if rep.OriginalType != "text/rfc822-headers" || !strings.HasPrefix(string(rep.Original), "Subject: hi\n") {
		t.Errorf("original %s %q", rep.OriginalType, rep.Original)
	}
}

func TestParseReportRejects(t *testing.T) {
	cases := map[string]struct{ old, new string }{
		"not a report":        {"multipart/report", "multipart/mixed"},
		"wrong report-type":   {"report-type=delivery-status", "report-type=disposition-notification"},
		"no status part":      {"message/delivery-status", "text/plain"},
		"no Reporting-MTA":    {"Reporting-MTA: dns; mx.example.net", "X-Nothing: 1"},
		"untyped MTA":         {"Reporting-MTA: dns; mx.example.net", "Reporting-MTA: mx.example.net"},
		"no Final-Recipient":  {"Final-Recipient: rfc822; bob@example.net", "X-Final: 1"},
		"bad action":          {"Action: failed", "Action: exploded"},
		"bad status":          {"Status: 5.1.1", "Status: 9.9"},
		"status class 3":      {"Status: 5.1.1", "Status: 3.1.1"},
		"bad date":            {"Arrival-Date: Wed,  1 May 2024 10:00:00 +0200 (CEST)", "Arrival-Date: yesterday"},
		"duplicate field":     {"Action: failed", "Action: failed\nAction: delivered"},
		"no recipient group":  {"\n\nFinal-Recipient", "\nFinal-Recipient"},
		"bad utf-8 escape":    {"rfc822; bob@example.net\nOrig", "utf-8; bob\\x{ZZ}@example.net\nOrig"},
		"leading space field": {"Action: failed", " Action: failed"},
		"no boundary":         {"boundary=\"8A1B2C3D.1714560000/mx.example.net\"", "x=y"},
	}
	for name, c := range cases {
		if !strings.Contains(foreignReport, c.old) {
			t.Fatalf("%s: fixture lacks %q", name, c.old)
		}
		broken := strings.Replace(foreignReport, c.old, c.new, 1)
		if _, err := ParseReport(strings.NewReader(broken)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, in := range map[string]string{
		"empty":       "",
		"garbage":     "\x00\x01\x02 not mail at all",
		"header only": "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n",
	} {
		if _, err := ParseReport(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseReportSizeLimit(t *testing.T) {
	huge := bytes.Repeat([]byte("x"), MaxReportSize+1)
	if _, err := ParseReport(bytes.NewReader(huge)); err == nil {
		t.Error("oversize input accepted")
	}
}

func TestDecodeUTF8Addr(t *testing.T) {
	for in, want := range map[string]string{
		`plain@example.org`:            "plain@example.org",
		`a\x{2B}b@example.org`:         "a+b@example.org",
		`\x{7528}\x{6237}@example.org`: "用户@example.org",
		`用户\x{5C}@例子.广告`:               `用户\@例子.广告`,
	} {
		if got, err := decodeUTF8Addr(in); err != nil || got != want {
			t.Errorf("decode(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{`\x{`, `\x{}`, `\x{110000}`, `\x{1234567}`, `\x{g}`} {
		if _, err := decodeUTF8Addr(bad); err == nil {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
}
