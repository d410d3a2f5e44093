package dsn

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
)

// Subjects, as Postfix writes them.
var subjects = map[Kind]string{
	Failure: "Undelivered Mail Returned to Sender",
	Delay:   "Delayed Mail (still being retried)",
	Success: "Successful Mail Delivery Report",
}

// doubleSubject is the subject of a double bounce to postmaster.
const doubleSubject = "Postmaster Copy: Undelivered Mail"

// Compose builds an RFC 3464 multipart/report; report-type=delivery-status
// message with CRLF line endings: a human-readable text/plain part, the
// message/delivery-status part, and (when n.Original is set) the returned
// original or its headers. It reads n.Original up to SizeLimit+1 bytes and
// does not close it.
//
// Every value taken from the original envelope or from a remote server is
// cleaned of CR, LF and controls before it is written, so each header
// field stays one (possibly folded) field. Addresses with UTF-8 use the
// RFC 6533 utf-8 address type and message/global-delivery-status.
//
// The result may contain 8-bit octets (an 8-bit original, UTF-8
// addresses); EightBit says so, and the caller then queues it with
// BODY=8BITMIME. It is queued with the null envelope sender.
func Compose(n Notification) ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	orig, err := returnedOriginal(&n)
	if err != nil {
		return nil, err
	}
	human, status := humanText(&n), deliveryStatus(&n)
	boundary, err := pickBoundary(human, status, orig)
	if err != nil {
		return nil, err
	}
	msgID, err := randomHex(12)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	writeTopHeader(&b, &n, statusType(status), boundary, "<"+msgID+"@"+hostPart(n.ReportingMTA)+">")
	b.WriteString("This is a MIME-encapsulated message.\r\n")
	writePart(&b, boundary, "Notification", textType(human), human)
	writePart(&b, boundary, "Delivery report", statusType(status), status)
	if orig != nil {
		writePart(&b, boundary, orig.desc, orig.ctype, string(orig.body))
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return []byte(b.String()), nil
}

// EightBit reports whether msg has octets above 127 and so needs
// BODY=8BITMIME (or SMTPUTF8) to be relayed as it is.
func EightBit(msg []byte) bool {
	return !isASCII(string(msg))
}

// writeTopHeader writes the notification's own header fields. The
// report-type is the subtype of the status part (RFC 6522 §3), so it is
// "global-delivery-status" when that part is message/global-delivery-status.
func writeTopHeader(b *strings.Builder, n *Notification, statusType, boundary, msgID string) {
	from := n.From
	if from == "" {
		from = "MAILER-DAEMON@" + n.ReportingMTA + " (Mail Delivery System)"
	}
	subject := subjects[n.Kind]
	if n.Double && n.Kind == Failure {
		subject = doubleSubject
	}
	writeField(b, "From", from)
	writeField(b, "To", "<"+clean(n.To)+">")
	writeField(b, "Subject", subject)
	writeField(b, "Date", n.Now.Format(dateFormat))
	writeField(b, "Message-ID", msgID)
	writeField(b, "Auto-Submitted", "auto-replied")
	writeField(b, "MIME-Version", "1.0")
	b.WriteString("Content-Type: multipart/report; report-type=" +
		strings.TrimPrefix(statusType, "message/") + ";\r\n" +
		"\tboundary=\"" + boundary + "\"\r\n")
	b.WriteString("\r\n")
}

// writePart writes one body part, opening delimiter included. The CRLF
// before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), so
// the body is written as it is and a returned original keeps its final
// line ending.
func writePart(b *strings.Builder, boundary, desc, ctype, body string) {
	b.WriteString("\r\n--" + boundary + "\r\n")
	writeField(b, "Content-Description", desc)
	b.WriteString("Content-Type: " + ctype + "\r\n")
	if isASCII(body) {
		b.WriteString("Content-Transfer-Encoding: 7bit\r\n")
	} else {
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
}

func textType(body string) string {
	if isASCII(body) {
		return "text/plain; charset=us-ascii"
	}
	return "text/plain; charset=utf-8"
}

// statusType: UTF-8 in any field calls for RFC 6533's global type.
func statusType(body string) string {
	if isASCII(body) {
		return "message/delivery-status"
	}
	return "message/global-delivery-status"
}

// pickBoundary draws a random boundary and makes sure no part contains it.
// "=_" cannot occur in quoted-printable text, a habit worth keeping.
func pickBoundary(human, status string, orig *returned) (string, error) {
	for range 4 {
		h, err := randomHex(15)
		if err != nil {
			return "", err
		}
		boundary := "=_" + h
		delim := "--" + boundary
		if strings.Contains(human, delim) || strings.Contains(status, delim) ||
			orig != nil && bytes.Contains(orig.body, []byte(delim)) {
			continue
		}
		return boundary, nil
	}
	return "", errors.New("dsn: could not find a MIME boundary absent from the message")
}

func randomHex(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(buf), nil
}

// hostPart keeps a hostname safe for the right side of a Message-ID.
func hostPart(host string) string {
	h := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, host)
	if h == "" {
		return "localhost"
	}
	return h
}
