package tlsrpt

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// mailMeta is what a report message needs besides the report.
type mailMeta struct {
	From      string   // header and envelope sender
	To        []string // the mailto: rua addresses
	Submitter string   // our domain, in the subject, header and file name
	Domain    string   // the policy domain reported on
	Start     time.Time
	End       time.Time
	ReportID  string
	Now       time.Time
}

// fileName is the attachment's name (RFC 8460 §5.3):
// submitter!policy-domain!begin!end.json.gz, times in Unix seconds.
func fileName(submitter, domain string, start, end time.Time) string {
	return fmt.Sprintf("%s!%s!%d!%d.json.gz", submitter, domain, start.Unix(), end.Unix())
}

// composeMessage builds the report mail (RFC 8460 §5.3): a
// multipart/report of report-type tlsrpt with a short text part and the
// gzipped JSON as application/tlsrpt+gzip.
func composeMessage(m mailMeta, gz []byte) []byte {
	boundary := "tlsrpt-" + randomHex(12)
	var b bytes.Buffer
	h := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	h("From", m.From)
	h("To", strings.Join(m.To, ", "))
	h("Date", m.Now.Format(time.RFC1123Z))
	h("Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", m.Domain, m.Submitter, m.ReportID))
	h("Message-ID", "<"+randomHex(16)+"."+m.ReportID+">")
	h("TLS-Report-Domain", m.Domain)
	h("TLS-Report-Submitter", m.Submitter)
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/report; report-type="tlsrpt";`+"\r\n\tboundary=\""+boundary+"\"")
	b.WriteString("\r\n")
	b.WriteString("This is a multi-part message in MIME format.\r\n\r\n")
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	fmt.Fprintf(&b, "This is an aggregate TLS report (RFC 8460) from %s\r\nfor %s, %s to %s.\r\n\r\n",
		m.Submitter, m.Domain, m.Start.UTC().Format(rfc3339), m.End.UTC().Format(rfc3339))
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	name := fileName(m.Submitter, m.Domain, m.Start, m.End)
	b.WriteString("Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n")
	fmt.Fprintf(&b, "Content-Disposition: attachment;\r\n\tfilename=\"%s\"\r\n\r\n", name)
	writeBase64(&b, gz)
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// writeBase64 writes data in lines of 76 characters.
func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}
