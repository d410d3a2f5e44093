package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message"
)

// MaxReportSize bounds how much ParseReport reads; a larger input is an
// error rather than an unbounded allocation.
const MaxReportSize = 16 << 20

// maxParts bounds the body parts ParseReport looks at.
const maxParts = 16

// Report is a parsed multipart/report delivery status notification.
type Report struct {
	Header mail.Header // the notification's own header fields, unfolded
	Text   string      // the human-readable part, "" when there is none
	// Global is set for message/global-delivery-status (RFC 6533).
	Global     bool
	Message    ReportMessage
	Recipients []ReportRecipient // at least one
	// OriginalType is the media type of the part after the status part
	// (message/rfc822, text/rfc822-headers, ...), "" when there is none;
	// Original is its content, transfer-decoded.
	OriginalType string
	Original     []byte
}

// ReportMessage holds the per-message fields of RFC 3464 §2.2.
type ReportMessage struct {
	ReportingMTA Typed     // required
	EnvID        string    // Original-Envelope-Id
	QueueID      string    // X-Moonpost-Queue-ID
	Arrival      time.Time // Arrival-Date; zero when absent
	// Fields holds every field of the group, names in canonical case,
	// including ones this type does not interpret.
	Fields map[string]string
}

// ReportRecipient holds the per-recipient fields of RFC 3464 §2.3.
type ReportRecipient struct {
	Final          Typed    // Final-Recipient, required
	Original       Typed    // Original-Recipient; zero when absent
	Action         string   // lower case, one of the Action constants
	Status         Enhanced // required
	RemoteMTA      Typed
	Diagnostic     Typed // Diagnostic-Code
	LastAttempt    time.Time
	WillRetryUntil time.Time
	Fields         map[string]string // every field, as in ReportMessage
}

// Typed is a "type; value" field such as "rfc822; a@b" or
// "smtp; 550 5.1.1 unknown". Type is lower case; a utf-8 address has its
// \x{HEX} escapes decoded.
type Typed struct {
	Type, Value string
}

// String formats the value back as "type; value".
func (t Typed) String() string {
	if t.Type == "" {
		return t.Value
	}
	return t.Type + "; " + t.Value
}

// ParseReport reads a multipart/report delivery status notification, as
// Compose writes and as other MTAs send. It checks what RFC 3464 requires
// (Reporting-MTA, and per recipient Final-Recipient, Action and Status)
// and returns an error for anything malformed; it never panics. Unknown
// charsets in the human-readable part are tolerated and left undecoded.
func ParseReport(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("dsn: reading report: %w", err)
	}
	if len(data) > MaxReportSize {
		return nil, errors.New("dsn: report larger than MaxReportSize")
	}
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("dsn: report header: %w", err)
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt != "multipart/report" {
		return nil, fmt.Errorf("dsn: not a multipart/report (%q)", mt)
	}
	if rt := strings.ToLower(params["report-type"]); rt != "delivery-status" && rt != "global-delivery-status" {
		return nil, fmt.Errorf("dsn: report-type %q is not delivery-status", rt)
	}
	if params["boundary"] == "" {
		return nil, errors.New("dsn: multipart/report without boundary")
	}
	rep := &Report{Header: mail.Header(e.Header.Map())}
	if err := rep.readParts(e.MultipartReader()); err != nil {
		return nil, err
	}
	return rep, nil
}

// readParts walks the body parts: the human-readable text before the
// status part, the status part itself, and the original after it.
func (rep *Report) readParts(mr message.MultipartReader) error {
	seenStatus := false
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) {
			return fmt.Errorf("dsn: report part %d: %w", i, err)
		}
		if i >= maxParts {
			return errors.New("dsn: too many parts in report")
		}
		mt, _, err := p.Header.ContentType()
		if err != nil {
			return fmt.Errorf("dsn: report part %d content type: %w", i, err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return fmt.Errorf("dsn: report part %d: %w", i, err)
		}
		switch {
		case mt == "message/delivery-status" || mt == "message/global-delivery-status":
			if seenStatus {
				return errors.New("dsn: report has two status parts")
			}
			seenStatus, rep.Global = true, mt == "message/global-delivery-status"
			if err := rep.parseStatus(body); err != nil {
				return err
			}
		case !seenStatus && rep.Text == "" && strings.HasPrefix(mt, "text/"):
			rep.Text = string(body)
		case seenStatus && rep.OriginalType == "":
			rep.OriginalType, rep.Original = mt, body
		}
	}
	if !seenStatus {
		return errors.New("dsn: report has no delivery-status part")
	}
	return nil
}
