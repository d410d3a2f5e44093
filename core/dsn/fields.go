package dsn

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxValueLen caps one field value. With the field name it keeps every
// line under RFC 5322's 998 octets even when a single word cannot fold;
// a remote diagnostic longer than this is cut, not trusted to be sane.
const maxValueLen = 900

// foldAt is where header lines are folded when there is a space to fold at.
const foldAt = 78

// dateFormat is RFC 5322's date-time, as RFC 3464 requires for its dates.
const dateFormat = time.RFC1123Z

// clean makes s safe to place in one header field or one line of text:
// CR, LF and other controls become spaces (so no field or MIME part can
// be injected), runs of white space collapse to one, invalid UTF-8 is
// replaced, and the result is capped at maxValueLen on a rune boundary.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxValueLen {
		return s
	}
	cut := maxValueLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// writeField writes "Name: value" CRLF, cleaning value and folding it at
// spaces so that lines stay near foldAt columns. A reader unfolds it back
// to the cleaned value.
func writeField(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	col := len(name) + 1
	for _, word := range strings.Fields(clean(value)) {
		if col+1+len(word) > foldAt && col > len(name)+1 {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		col += 1 + len(word)
	}
	b.WriteString("\r\n")
}

// isASCII reports whether s is 7-bit.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// typedAddress formats an address for Final-Recipient and
// Original-Recipient: "rfc822; a@b", or for an SMTPUTF8 address the
// RFC 6533 "utf-8; " form, which forces message/global-delivery-status.
func typedAddress(addr string) string {
	addr = clean(addr)
	if isASCII(addr) {
		return "rfc822; " + addr
	}
	return "utf-8; " + encodeUTF8Addr(addr)
}

// encodeUTF8Addr writes the utf-8-addr-unitext form of RFC 6533 §3:
// UTF-8 stays as it is; backslash, "+", "=", space and controls become
// \x{HEX}, so the value cannot be confused with xtext.
func encodeUTF8Addr(addr string) string {
	var b strings.Builder
	for _, r := range addr {
		if r <= 0x20 || r == '\\' || r == '+' || r == '=' || r == 0x7f {
			fmt.Fprintf(&b, `\x{%X}`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// typedORcpt formats a queued ORCPT ("type;address", address already
// xtext decoded) for Original-Recipient.
func typedORcpt(orcpt string) string {
	typ, addr, ok := strings.Cut(orcpt, ";")
	if !ok {
		return typedAddress(orcpt)
	}
	typ, addr = strings.ToLower(strings.TrimSpace(typ)), strings.TrimSpace(addr)
	if typ == "rfc822" || !isTypeToken(typ) {
		return typedAddress(addr)
	}
	return typ + "; " + clean(addr)
}

// typed returns v when it already starts with "type;", else def + "; " + v.
// Diagnostic texts often contain a ';' of their own, hence the token check.
func typed(v, def string) string {
	if typ, rest, ok := strings.Cut(v, ";"); ok && isTypeToken(strings.TrimSpace(typ)) {
		return strings.ToLower(strings.TrimSpace(typ)) + "; " + strings.TrimSpace(rest)
	}
	return def + "; " + strings.TrimSpace(v)
}

// isTypeToken accepts the address, MTA and diagnostic type names of
// RFC 3464: "rfc822", "utf-8", "dns", "smtp", "x-unix" and the like.
func isTypeToken(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// deliveryStatus builds the message/delivery-status body: the
// per-message group, then one group per recipient, separated by blank
// lines (RFC 3464 §2.1).
func deliveryStatus(n *Notification) string {
	var b strings.Builder
	writeField(&b, "Reporting-MTA", "dns; "+n.ReportingMTA)
	if n.QueueID != "" {
		writeField(&b, "X-Moonpost-Queue-ID", n.QueueID)
	}
	if n.EnvID != "" {
		writeField(&b, "Original-Envelope-Id", n.EnvID)
	}
	if !n.Arrival.IsZero() {
		writeField(&b, "Arrival-Date", n.Arrival.Format(dateFormat))
	}
	for i := range n.Recipients {
		b.WriteString("\r\n")
		writeRecipient(&b, n.Kind, &n.Recipients[i])
	}
	return b.String()
}

// writeRecipient writes one per-recipient group.
func writeRecipient(b *strings.Builder, k Kind, r *RcptReport) {
	writeField(b, "Final-Recipient", typedAddress(r.Final))
	if r.ORcpt != "" {
		writeField(b, "Original-Recipient", typedORcpt(r.ORcpt))
	}
	writeField(b, "Action", r.action(k))
	writeField(b, "Status", r.status(k).Enhanced.String())
	if r.RemoteMTA != "" {
		writeField(b, "Remote-MTA", typed(r.RemoteMTA, "dns"))
	}
	if r.DiagnosticCode != "" {
		writeField(b, "Diagnostic-Code", typed(r.DiagnosticCode, "smtp"))
	}
	if !r.LastAttempt.IsZero() {
		writeField(b, "Last-Attempt-Date", r.LastAttempt.Format(dateFormat))
	}
	if k == Delay && !r.WillRetryUntil.IsZero() {
		writeField(b, "Will-Retry-Until", r.WillRetryUntil.Format(dateFormat))
	}
}
