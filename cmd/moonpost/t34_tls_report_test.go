package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// Scenario 34: TLS reporting end to end. A delivery to a domain that
// asks for TLS reports goes to an MX without STARTTLS; once the
// (short) reporting period ends, the daemon queues the RFC 8460 report
// and delivers it through itself to the domain's rua, where it says one
// session failed with starttls-not-supported.
func TestT34TLSReportSentThroughTheQueue(t *testing.T) {
	s := newSink(t, "127.0.0.4")
	ns := dnstest.NewServer(t)
	ns.Add(t,
		"remote.test. 300 IN MX 10 mx1.remote.test.",
		"mx1.remote.test. 300 IN A 127.0.0.4",
		`_smtp._tls.remote.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@remote.test"`,
	)
	d := newDaemon(t, fmt.Sprintf("[smtp]\nport = %s\n[dns]\nservers = [%q]\n"+
		"[tlsrpt]\nenabled = true\ninterval = \"2s\"\norganization_name = \"MX Test\"\nfrom = \"tlsrpt@local.test\"",
		s.port(), ns.Addr))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.message("alice@local.test", []string{"bob@remote.test"}, "Subject: t34\r\n\r\nhello"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	var report *sinkMsg
	for _, m := range waitSink(t, d, s, 2) {
		if len(m.To) == 1 && m.To[0] == "tls-reports@remote.test" {
			report = &m
			break
		}
	}
	if report == nil {
		t.Fatalf("no report among %+v\n%s", s.received(), d.logs())
	}
	if report.From != "tlsrpt@local.test" {
		t.Errorf("report from %q", report.From)
	}
	got := decodeReport(t, report.Data)
	if got.Org != "MX Test" || len(got.Policies) != 1 {
		t.Fatalf("report %+v", got)
	}
	p := got.Policies[0]
	if p.Policy.Type != "no-policy-found" || p.Policy.Domain != "remote.test" || p.Summary.Failed != 1 ||
		len(p.Details) != 1 || p.Details[0].Result != "starttls-not-supported" || p.Details[0].MX != "mx1.remote.test" {
		t.Fatalf("policy result %+v", p)
	}
	d.waitLog("TLS report for remote.test to tls-reports@remote.test", 1)
}

// Scenario 34, MTA-STS side: a domain announces a policy whose HTTPS
// host does not answer. RFC 8461 section 5.1: with no cached policy the
// mail is delivered as without one, not deferred; the domain's report
// then names the failed fetch under its sts policy, beside the session
// that ran under no policy.
func TestT34STSFetchFailureDeliversAndIsReported(t *testing.T) {
	s := newSink(t, "127.0.0.4")
	ns := dnstest.NewServer(t)
	ns.Add(t,
		"remote.test. 300 IN MX 10 mx1.remote.test.",
		"mx1.remote.test. 300 IN A 127.0.0.4",
		`_mta-sts.remote.test. 300 IN TXT "v=STSv1; id=20260301;"`,
		"mta-sts.remote.test. 300 IN A 127.0.0.9", // nothing listens on 443
		`_smtp._tls.remote.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@remote.test"`,
	)
	d := newDaemon(t, fmt.Sprintf("[smtp]\nport = %s\n[dns]\nservers = [%q]\n"+
		"[tlsrpt]\nenabled = true\ninterval = \"2s\"\nfrom = \"tlsrpt@local.test\"", s.port(), ns.Addr))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.message("alice@local.test", []string{"bob@remote.test"}, "Subject: t34\r\n\r\nhello"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	// The two outcomes may fall into two periods: gather the reports
	// until both are seen.
	seen := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("reports seen %v; sink %d messages\n%s", seen, len(s.received()), d.logs())
		}
		time.Sleep(50 * time.Millisecond)
		for _, m := range s.received() {
			if len(m.To) != 1 || m.To[0] != "tls-reports@remote.test" {
				continue
			}
			for _, p := range decodeReport(t, m.Data).Policies {
				if p.Summary.Failed != 1 || p.Summary.OK != 0 || len(p.Details) != 1 {
					t.Fatalf("policy result %+v", p)
				}
				seen[p.Policy.Type] = p.Details[0].Result
			}
		}
	}
	if seen["sts"] != "sts-policy-fetch-error" || seen["no-policy-found"] != "starttls-not-supported" {
		t.Errorf("reports %v", seen)
	}
	delivered := 0
	for _, m := range s.received() {
		if len(m.To) == 1 && m.To[0] == "bob@remote.test" {
			delivered++
		}
	}
	if delivered != 1 {
		t.Errorf("the mail was delivered %d times despite the failed policy fetch, want 1", delivered)
	}
}

type e2eReport struct {
	Org      string `json:"organization-name"`
	Policies []struct {
		Policy struct {
			Type   string `json:"policy-type"`
			Domain string `json:"policy-domain"`
		} `json:"policy"`
		Summary struct {
			OK     int `json:"total-successful-session-count"`
			Failed int `json:"total-failure-session-count"`
		} `json:"summary"`
		Details []struct {
			Result string `json:"result-type"`
			MX     string `json:"receiving-mx-hostname"`
			Count  int    `json:"failed-session-count"`
		} `json:"failure-details"`
	} `json:"policies"`
}

// decodeReport finds the application/tlsrpt+gzip part and reads it.
func decodeReport(t *testing.T, data string) e2eReport {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("TLS-Report-Domain") != "remote.test" || msg.Header.Get("TLS-Report-Submitter") != "local.test" {
		t.Errorf("headers %v", msg.Header)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; i < 5; i++ {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no report part: %v", err)
		}
		if part.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		raw, _ := io.ReadAll(part)
		gz, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		var r e2eReport
		if err := json.NewDecoder(zr).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Fatal("too many parts")
	return e2eReport{}
}
