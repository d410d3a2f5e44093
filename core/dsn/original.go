package dsn

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// returned is the third MIME part: what comes back of the original.
type returned struct {
	ctype string // message/rfc822, message/global, or their headers-only forms
	desc  string // Content-Description
	body  []byte // CRLF content; 8-bit octets make the part declare 8bit
}

// returnedOriginal picks how much of the original goes back, as Postfix
// does with bounce_size_limit: a failure with RET=FULL or no RET returns
// the whole message when it fits SizeLimit; otherwise, and always for
// delay and success notices (RFC 3461 §4.3), only the header block.
//
// The original is never re-encoded: 8-bit content is declared 8bit, which
// RFC 2046 allows for message/rfc822. The notification then needs
// 8BITMIME on its way out; EightBit tells the caller. Re-encoding would
// break signatures the sender may want to check.
func returnedOriginal(n *Notification) (*returned, error) {
	if n.Original == nil {
		return nil, nil
	}
	limit := n.SizeLimit
	if limit <= 0 {
		limit = DefaultSizeLimit
	}
	raw, err := io.ReadAll(io.LimitReader(n.Original, limit+1))
	if err != nil {
		return nil, fmt.Errorf("dsn: reading original message: %w", err)
	}
	complete := int64(len(raw)) <= limit
	body := toCRLF(raw)
	full := n.Kind == Failure && !strings.EqualFold(n.Ret, RetHdrs) && complete
	if !full {
		body = headerBlock(body, complete)
	}
	return describeReturned(n.Kind, body, full), nil
}

// describeReturned chooses type and description. A header block with
// UTF-8 in it (SMTPUTF8 mail) is message/global or message/global-headers
// (RFC 6532 §3.7, RFC 6533 §6.3).
func describeReturned(k Kind, body []byte, full bool) *returned {
	r := &returned{body: body}
	utf8Headers := !isASCII(string(headerBlock(body, true)))
	verb := map[Kind]string{Failure: "Undelivered", Delay: "Delayed", Success: "Delivered"}[k]
	switch {
	case full && utf8Headers:
		r.ctype, r.desc = "message/global", verb+" Message"
	case full:
		r.ctype, r.desc = "message/rfc822", verb+" Message"
	case utf8Headers:
		r.ctype, r.desc = "message/global-headers", verb+" Message Headers"
	default:
		r.ctype, r.desc = "text/rfc822-headers", verb+" Message Headers"
	}
	return r
}

// headerBlock returns the header fields of msg including their final
// CRLF, without the blank line. When msg is incomplete (cut at the size
// limit inside the header) the last, possibly partial field is dropped.
func headerBlock(msg []byte, complete bool) []byte {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return nil
	}
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+2]
	}
	if complete {
		if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
			return append(msg[:len(msg):len(msg)], '\r', '\n')
		}
		return msg
	}
	// Keep whole fields only: cut before the last line that starts a field.
	for end := bytes.LastIndex(msg, []byte("\r\n")); end >= 0; end = bytes.LastIndex(msg[:end], []byte("\r\n")) {
		if end+2 < len(msg) && msg[end+2] != ' ' && msg[end+2] != '\t' {
			return msg[:end+2]
		}
	}
	return nil
}

// toCRLF turns bare LF and bare CR into CRLF, so the embedded message
// has the line endings of the notification around it.
func toCRLF(b []byte) []byte {
	if !bytes.ContainsAny(b, "\r\n") {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/32)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case b[i] == '\r' || b[i] == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, b[i])
		}
	}
	return out
}
