package dsn

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// fieldLine is a header line that starts a field; anything else in a
// header block must be a continuation (leading white space).
var fieldLine = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*: `)

// headerBlocks returns the top header and every part's header plus the
// status groups: everything of msg that must be header-shaped.
func headerBlocks(t *testing.T, msg []byte) [][]string {
	t.Helper()
	var blocks [][]string
	top, rest, _ := strings.Cut(string(msg), "\r\n\r\n")
	blocks = append(blocks, strings.Split(top, "\r\n"))
	start := strings.Index(rest, "Content-Type: message/delivery-status")
	if start < 0 {
		t.Fatal("no status part")
	}
	status := rest[start:]
	status = status[:strings.Index(status, "\r\n--=_")]
	for _, g := range strings.Split(status, "\r\n\r\n") {
		blocks = append(blocks, strings.Split(g, "\r\n"))
	}
	return blocks
}

func TestComposeResistsInjection(t *testing.T) {
	n := testNotification(Failure)
	n.To = "alice@example.com\r\nBcc: victim@example.net"
	n.EnvID = "env\r\n\r\nFinal-Recipient: rfc822; forged@example.net"
	n.QueueID = "Q1\nX-Injected: 1"
	n.Recipients[0].Final = "bob@example.org\r\nAction: delivered"
	n.Recipients[0].ORcpt = "rfc822;bob@example.org\rStatus: 2.0.0"
	n.Recipients[0].DiagnosticCode = "smtp; 550 no\r\n\r\n--=_fake\r\nContent-Type: text/html\r\n\r\n<b>hi</b>"
	n.Recipients[0].RemoteMTA = "mx.example.org\n\nReporting-MTA: dns; evil"
	msg, rep := composeParse(t, n)

	for _, block := range headerBlocks(t, msg) {
		for _, line := range block {
			if line != "" && !fieldLine.MatchString(line) && line[0] != ' ' && line[0] != '\t' {
				t.Errorf("header line is neither a field nor a continuation: %q", line)
			}
		}
	}
	if len(rep.Recipients) != 1 {
		t.Fatalf("injection created %d recipient groups", len(rep.Recipients))
	}
	if rep.Header.Get("Bcc") != "" || rep.Message.Fields["X-Injected"] != "" {
		t.Error("injected field parsed as real")
	}
	r := rep.Recipients[0]
	if r.Action != "failed" || r.Status != (Enhanced{5, 1, 1}) {
		t.Errorf("injected values won: %+v", r)
	}
	if r.Final.Value != "bob@example.org Action: delivered" {
		t.Errorf("Final = %q", r.Final.Value)
	}
	if got := rep.Header.Get("To"); got != "<alice@example.com Bcc: victim@example.net>" {
		t.Errorf("To = %q", got)
	}
	if rep.OriginalType != "message/rfc822" || strings.Contains(rep.Text, "\r\n--=_fake") {
		t.Error("a fake boundary in a diagnostic split the message")
	}
}

func TestComposeUTF8Addresses(t *testing.T) {
	n := testNotification(Failure)
	n.Recipients[0].Final = "用户+tag@例子.广告"
	n.Recipients[0].ORcpt = "utf-8;用户@例子.广告"
	msg, rep := composeParse(t, n)
	if !rep.Global || !strings.Contains(rep.Header.Get("Content-Type"), "report-type=global-delivery-status") {
		t.Errorf("UTF-8 address without the global status type:\n%s", msg)
	}
	if !bytes.Contains(msg, []byte(`Final-Recipient: utf-8; 用户\x{2B}tag@例子.广告`)) {
		t.Errorf("utf-8 address not in unitext form:\n%s", msg)
	}
	r := rep.Recipients[0]
	if r.Final != (Typed{"utf-8", "用户+tag@例子.广告"}) || r.Original != (Typed{"utf-8", "用户@例子.广告"}) {
		t.Errorf("utf-8 addresses did not round trip: %+v %+v", r.Final, r.Original)
	}
	if !EightBit(msg) {
		t.Error("EightBit false for a message with UTF-8")
	}
}

func TestCompose8BitOriginal(t *testing.T) {
	orig := "Subject: menu\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 cr\xc3\xa8me\r\n"
	n := testNotification(Failure)
	n.Original = strings.NewReader(orig)
	msg, rep := composeParse(t, n)
	if !bytes.Contains(msg, []byte("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n")) {
		t.Errorf("8-bit original not declared 8bit:\n%s", msg)
	}
	if string(rep.Original) != orig || !EightBit(msg) {
		t.Error("8-bit original changed or not flagged")
	}
	// An all-ASCII notification stays 7bit and needs no 8BITMIME.
	ascii, err := Compose(testNotification(Failure))
	if err != nil || EightBit(ascii) || bytes.Contains(ascii, []byte("8bit")) {
		t.Errorf("ASCII notification flagged 8-bit (err %v)", err)
	}
}

func TestComposeLongDiagnostic(t *testing.T) {
	n := testNotification(Failure)
	n.Recipients[0].DiagnosticCode = "smtp; 550-5.7.1 " + strings.Repeat("policy blah ", 300)
	msg, rep := composeParse(t, n)
	for _, line := range strings.Split(string(msg), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d octets", len(line))
		}
	}
	if d := rep.Recipients[0].Diagnostic.String(); len(d) > maxValueLen || !strings.HasPrefix(d, "smtp; 550-5.7.1 policy") {
		t.Errorf("diagnostic %d bytes: %.40q", len(d), d)
	}
}
