package dsn

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	testNow     = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	testArrival = testNow.Add(-4 * time.Hour)
)

// testNotification is a failure with one fully described recipient.
func testNotification(k Kind) Notification {
	return Notification{
		Kind: k, ReportingMTA: "mail.example.com", QueueID: "4VXyZ12abc",
		Arrival: testArrival, To: "alice@example.com", EnvID: "env-42",
		Original: strings.NewReader(smallOriginal), Now: testNow,
		Postmaster: "postmaster@example.com",
		Recipients: []RcptReport{{
			Final: "bob@example.org", ORcpt: "rfc822;Bob@Example.org",
			Status: UnknownUser, RemoteMTA: "mx.example.org",
			DiagnosticCode: "smtp; 550 5.1.1 <bob@example.org>: user unknown",
			LastAttempt:    testNow.Add(-time.Minute),
		}},
	}
}

// composeParse composes n and parses it back, failing the test on error.
func composeParse(t *testing.T, n Notification) ([]byte, *Report) {
	t.Helper()
	msg, err := Compose(n)
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	checkLineEndings(t, msg)
	rep, err := ParseReport(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("ParseReport: %v\n%s", err, msg)
	}
	return msg, rep
}

// flat joins wrapped text into one line for matching.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkLineEndings: every line ends in CRLF; no bare CR or LF anywhere.
func checkLineEndings(t *testing.T, msg []byte) {
	t.Helper()
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		t.Error("message does not end in CRLF")
	}
	stripped := bytes.ReplaceAll(msg, []byte("\r\n"), nil)
	if bytes.ContainsAny(stripped, "\r\n") {
		t.Error("message has a bare CR or LF")
	}
}

func TestComposeFailureRoundTrip(t *testing.T) {
	msg, rep := composeParse(t, testNotification(Failure))
	h := rep.Header
	for field, want := range map[string]string{
		"From":           "MAILER-DAEMON@mail.example.com (Mail Delivery System)",
		"To":             "<alice@example.com>",
		"Subject":        "Undelivered Mail Returned to Sender",
		"Date":           "Wed, 01 May 2024 12:00:00 +0000",
		"Auto-Submitted": "auto-replied",
		"Mime-Version":   "1.0",
	} {
		if got := h.Get(field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	if !regexp.MustCompile(`^<[0-9a-f]{24}@mail\.example\.com>$`).MatchString(h.Get("Message-Id")) {
		t.Errorf("Message-ID %q", h.Get("Message-Id"))
	}
	if !strings.Contains(h.Get("Content-Type"), "report-type=delivery-status") {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	m := rep.Message
	if m.ReportingMTA != (Typed{"dns", "mail.example.com"}) || m.QueueID != "4VXyZ12abc" ||
		m.EnvID != "env-42" || !m.Arrival.Equal(testArrival) {
		t.Errorf("per-message fields: %+v", m)
	}
	if len(rep.Recipients) != 1 {
		t.Fatalf("%d recipients", len(rep.Recipients))
	}
	r := rep.Recipients[0]
	if r.Final != (Typed{"rfc822", "bob@example.org"}) || r.Original != (Typed{"rfc822", "Bob@Example.org"}) ||
		r.Action != "failed" || r.Status != (Enhanced{5, 1, 1}) ||
		r.RemoteMTA != (Typed{"dns", "mx.example.org"}) ||
		r.Diagnostic != (Typed{"smtp", "550 5.1.1 <bob@example.org>: user unknown"}) ||
		!r.LastAttempt.Equal(testNow.Add(-time.Minute)) || !r.WillRetryUntil.IsZero() {
		t.Errorf("per-recipient fields: %+v", r)
	}
	if rep.OriginalType != "message/rfc822" || string(rep.Original) != smallOriginal {
		t.Errorf("original: %s %q", rep.OriginalType, rep.Original)
	}
	for _, want := range []string{
		"This is the mail system at host mail.example.com.",
		"I'm sorry to have to inform you that your message could not",
		"please send mail to postmaster@example.com.",
		// ORCPT differs only in case: no "expanded from".
		"<bob@example.org>: host mx.example.org said: 550 5.1.1 <bob@example.org>: user unknown",
	} {
		if !strings.Contains(flat(rep.Text), want) {
			t.Errorf("human text lacks %q:\n%s", want, rep.Text)
		}
	}
	// Golden check on the status part as written.
	golden := "Reporting-MTA: dns; mail.example.com\r\n" +
		"X-Moonpost-Queue-ID: 4VXyZ12abc\r\n" +
		"Original-Envelope-Id: env-42\r\n" +
		"Arrival-Date: Wed, 01 May 2024 08:00:00 +0000\r\n" +
		"\r\n" +
		"Final-Recipient: rfc822; bob@example.org\r\n" +
		"Original-Recipient: rfc822; Bob@Example.org\r\n" +
		"Action: failed\r\n" +
		"Status: 5.1.1\r\n" +
		"Remote-MTA: dns; mx.example.org\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: user unknown\r\n" +
		"Last-Attempt-Date: Wed, 01 May 2024 11:59:00 +0000\r\n"
	if !bytes.Contains(msg, []byte(golden)) {
		t.Errorf("status part differs from golden:\n%s", msg)
	}
}

func TestComposeDelay(t *testing.T) {
	n := testNotification(Delay)
	n.Ret = RetFull // ignored: delay notices return headers only
	until := testArrival.Add(5 * 24 * time.Hour)
	n.Recipients[0].Status = ConnectFailed
	n.Recipients[0].WillRetryUntil = until
	_, rep := composeParse(t, n)
	if rep.Header.Get("Subject") != "Delayed Mail (still being retried)" {
		t.Errorf("subject %q", rep.Header.Get("Subject"))
	}
	r := rep.Recipients[0]
	if r.Action != "delayed" || r.Status != (Enhanced{4, 4, 1}) || !r.WillRetryUntil.Equal(until) {
		t.Errorf("recipient %+v", r)
	}
	for _, want := range []string{
		"# THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
		"could not be delivered for 4.0 hour(s).",
		"It will be retried until Mon, 06 May 2024 08:00:00 +0000.",
	} {
		if !strings.Contains(flat(rep.Text), want) {
			t.Errorf("delay text lacks %q:\n%s", want, rep.Text)
		}
	}
	if rep.OriginalType != "text/rfc822-headers" || string(rep.Original) != smallHeaders() {
		t.Errorf("original: %s %q", rep.OriginalType, rep.Original)
	}
}

func TestComposeSuccess(t *testing.T) {
	n := testNotification(Success)
	n.Recipients[0] = RcptReport{Final: "bob@example.org", RemoteMTA: "dns; mx.example.org",
		DiagnosticCode: "smtp; 250 2.0.0 Ok: queued as 123"}
	n.Recipients = append(n.Recipients, RcptReport{Final: "carol@example.net", Action: ActionRelayed,
		ORcpt: "rfc822;info@example.net", Status: New(250, "2.0.0", "Ok")})
	_, rep := composeParse(t, n)
	if rep.Header.Get("Subject") != "Successful Mail Delivery Report" {
		t.Errorf("subject %q", rep.Header.Get("Subject"))
	}
	if len(rep.Recipients) != 2 || rep.Recipients[0].Action != "delivered" || rep.Recipients[1].Action != "relayed" ||
		rep.Recipients[0].Status != (Enhanced{2, 0, 0}) {
		t.Errorf("recipients %+v", rep.Recipients)
	}
	if !strings.Contains(flat(rep.Text), "Your message was successfully delivered") ||
		!strings.Contains(flat(rep.Text), "<carol@example.net> (expanded from <info@example.net>): 250 2.0.0 Ok") {
		t.Errorf("success text:\n%s", rep.Text)
	}
	if rep.OriginalType != "text/rfc822-headers" {
		t.Errorf("success notice returned %s", rep.OriginalType)
	}
}

func TestComposeReturnPolicy(t *testing.T) {
	big := smallOriginal + strings.Repeat("0123456789abcdef\r\n", 4000) // ~72 KB
	cases := []struct {
		name, ret, orig string
		limit           int64
		wantType        string
	}{
		{"RET unset", "", smallOriginal, 0, "message/rfc822"},
		{"RET=FULL", "FULL", smallOriginal, 0, "message/rfc822"},
		{"RET=HDRS", "HDRS", smallOriginal, 0, "text/rfc822-headers"},
		{"oversize over default limit", "FULL", big, 0, "text/rfc822-headers"},
		{"oversize fits larger limit", "FULL", big, 1 << 20, "message/rfc822"},
	}
	for _, c := range cases {
		n := testNotification(Failure)
		n.Ret, n.SizeLimit, n.Original = c.ret, c.limit, strings.NewReader(c.orig)
		_, rep := composeParse(t, n)
		if rep.OriginalType != c.wantType {
			t.Errorf("%s: %s", c.name, rep.OriginalType)
		}
		if c.wantType == "text/rfc822-headers" && string(rep.Original) != smallHeaders() {
			t.Errorf("%s: headers %q", c.name, rep.Original)
		}
		if c.wantType == "message/rfc822" && string(rep.Original) != c.orig {
			t.Errorf("%s: original not returned intact", c.name)
		}
	}
	n := testNotification(Failure)
	n.Original = nil
	if _, rep := composeParse(t, n); rep.OriginalType != "" {
		t.Errorf("no original, yet a third part %s", rep.OriginalType)
	}
}

func TestComposeDoubleBounce(t *testing.T) {
	n := testNotification(Failure)
	n.Double, n.To = true, "postmaster@example.com"
	_, rep := composeParse(t, n)
	if rep.Header.Get("Subject") != "Postmaster Copy: Undelivered Mail" ||
		!strings.Contains(flat(rep.Text), "was itself a delivery status") {
		t.Errorf("double bounce: %q\n%s", rep.Header.Get("Subject"), rep.Text)
	}
}

func TestComposeUniqueMessageIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		_, rep := composeParse(t, testNotification(Failure))
		id := rep.Header.Get("Message-Id")
		if seen[id] {
			t.Fatalf("Message-ID %s repeated", id)
		}
		seen[id] = true
	}
}

func TestComposeRejectsUselessNotifications(t *testing.T) {
	cases := map[string]func(*Notification){
		"no kind":        func(n *Notification) { n.Kind = 0 },
		"no host":        func(n *Notification) { n.ReportingMTA = "" },
		"no To":          func(n *Notification) { n.To = "" },
		"no recipients":  func(n *Notification) { n.Recipients = nil },
		"no Final":       func(n *Notification) { n.Recipients[0].Final = "" },
		"unknown action": func(n *Notification) { n.Recipients[0].Action = "bounced" },
	}
	for name, mutate := range cases {
		n := testNotification(Failure)
		mutate(&n)
		if _, err := Compose(n); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
