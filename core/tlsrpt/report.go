package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"sort"
	"time"
)

// Report is the aggregate report of RFC 8460 §4, as JSON.
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyResult `json:"policies"`
}

// DateRange is the period covered, RFC 3339 in UTC.
type DateRange struct {
	Start string `json:"start-datetime"`
	End   string `json:"end-datetime"`
}

// PolicyResult is one policy's counts.
type PolicyResult struct {
	Policy         PolicyJSON      `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// PolicyJSON names the policy. mx-host is an array, as the RFC's
// errata (EID 6241) and the large report senders have it.
type PolicyJSON struct {
	Type   PolicyType `json:"policy-type"`
	String []string   `json:"policy-string,omitempty"`
	Domain string     `json:"policy-domain"`
	MXHost []string   `json:"mx-host,omitempty"`
}

// Summary counts the sessions.
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail groups failed sessions that failed alike.
type FailureDetail struct {
	Result          ResultType `json:"result-type"`
	SendingMTAIP    string     `json:"sending-mta-ip,omitempty"`
	ReceivingMXHost string     `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo string     `json:"receiving-mx-helo,omitempty"`
	ReceivingIP     string     `json:"receiving-ip,omitempty"`
	Count           int64      `json:"failed-session-count"`
	Info            string     `json:"additional-information,omitempty"`
}

// rfc3339 is the date-time format of the report: UTC, seconds.
const rfc3339 = "2006-01-02T15:04:05Z"

// buildReport makes domain's report for period p. The end is the last
// second of the period, as in the RFC's example.
func buildReport(p *period, domain, org, contact, id string) *Report {
	r := &Report{OrganizationName: org, ContactInfo: contact, ReportID: id,
		DateRange: DateRange{Start: p.Start.UTC().Format(rfc3339), End: p.End.Add(-time.Second).UTC().Format(rfc3339)}}
	keys := make([]string, 0, len(p.Policies))
	for k, pc := range p.Policies {
		if pc.Policy.Domain == domain {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Policies = append(r.Policies, policyResult(p.Policies[k]))
	}
	return r
}

func policyResult(pc *policyCounts) PolicyResult {
	pr := PolicyResult{
		Policy:  PolicyJSON{Type: pc.Policy.Type, String: pc.Policy.String, Domain: pc.Policy.Domain, MXHost: pc.Policy.MXHost},
		Summary: Summary{Successful: pc.Success, Failed: pc.Failure},
	}
	for _, d := range pc.Details {
		pr.FailureDetails = append(pr.FailureDetails, FailureDetail{Result: d.Result, SendingMTAIP: d.SendingIP,
			ReceivingMXHost: d.MXHost, ReceivingMXHelo: d.MXHelo, ReceivingIP: d.ReceivingIP, Count: d.Count, Info: d.Info})
	}
	sort.Slice(pr.FailureDetails, func(i, j int) bool {
		a, b := pr.FailureDetails[i], pr.FailureDetails[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Result+ResultType(a.ReceivingIP+a.Info) < b.Result+ResultType(b.ReceivingIP+b.Info)
	})
	return pr
}

// gzipJSON is the report as application/tlsrpt+gzip.
func gzipJSON(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
