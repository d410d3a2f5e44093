package smtp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
)

// mailParams formats MAIL FROM's parameters, each only where the peer
// offers its extension: SIZE, BODY (8BITMIME), SMTPUTF8, and RET and
// ENVID under DSN (RFC 3461).
func (a *Agent) mailParams(s *session, req *deliver.Request) string {
	var b strings.Builder
	if s.has("SIZE") {
		b.WriteString(" SIZE=" + strconv.FormatInt(req.Content.Size(), 10))
	}
	if body := strings.ToUpper(req.BodyType); s.has("8BITMIME") && (body == "8BITMIME" || body == "7BIT") {
		b.WriteString(" BODY=" + body)
	}
	if req.SMTPUTF8 && s.has("SMTPUTF8") {
		b.WriteString(" SMTPUTF8")
	}
	if s.has("DSN") {
		switch r := strings.ToUpper(req.Ret); r {
		case "FULL", "HDRS":
			b.WriteString(" RET=" + r)
		}
		if printableASCII(req.EnvID) {
			b.WriteString(" ENVID=" + xtext(req.EnvID))
		}
	}
	return b.String()
}

// rcptParams formats RCPT TO's NOTIFY and ORCPT where the peer offers
// DSN. A value that cannot be sent as is, is dropped rather than
// failing the recipient: DSN parameters are advisory.
func rcptParams(s *session, r deliver.Recipient) string {
	if !s.has("DSN") {
		return ""
	}
	var b strings.Builder
	if n := parseNotify(r.Notify); len(n) > 0 {
		b.WriteString(" NOTIFY=" + strings.Join(n, ","))
	}
	typ, addr, ok := strings.Cut(r.ORcpt, ";")
	switch {
	case !ok || addr == "":
	case strings.EqualFold(typ, "rfc822") && printableASCII(addr):
		b.WriteString(" ORCPT=RFC822;" + xtext(addr))
	case strings.EqualFold(typ, "utf-8"):
		b.WriteString(" ORCPT=UTF-8;" + utf8AddrXtext(addr))
	}
	return b.String()
}

// parseNotify reads "NEVER" or a comma list of SUCCESS, FAILURE, DELAY
// (RFC 3461 4.1). Anything else gives nil: the peer's default.
func parseNotify(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range strings.Split(strings.ToUpper(s), ",") {
		v = strings.TrimSpace(v)
		switch v {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return nil
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	if seen["NEVER"] && len(out) > 1 {
		return nil
	}
	return out
}

// printableASCII is RFC 3461's condition for ENVID and rfc822 ORCPT.
func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// xtext encodes an RFC 3461 xtext value.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// utf8AddrXtext encodes an RFC 6533 utf-8-addr-xtext value: what is
// not printable ASCII, and '+', '=' and '\', as \x{HEX} of its code
// point, so it can go to a peer without SMTPUTF8.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 33 || r > 126 || r == '+' || r == '=' || r == '\\' {
			fmt.Fprintf(&b, `\x{%X}`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
