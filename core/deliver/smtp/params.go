package smtp

import (
	"strings"

	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
)

// mailOptions builds the MAIL FROM parameters. go-smtp sends each one
// only when the peer offers its extension (SIZE, DSN for RET and ENVID)
// and adds BODY=8BITMIME itself whenever 8BITMIME is offered.
func (a *Agent) mailOptions(s *session, req *deliver.Request) *smtp.MailOptions {
	opts := &smtp.MailOptions{
		Size: req.Content.Size(),
		UTF8: req.SMTPUTF8 && has(s, "SMTPUTF8"),
	}
	switch strings.ToUpper(req.BodyType) {
	case "8BITMIME":
		opts.Body = smtp.Body8BitMIME
	case "7BIT":
		opts.Body = smtp.Body7Bit
	}
	switch strings.ToUpper(req.Ret) {
	case "FULL":
		opts.Return = smtp.DSNReturnFull
	case "HDRS":
		opts.Return = smtp.DSNReturnHeaders
	}
	if printableASCII(req.EnvID) {
		opts.EnvelopeID = req.EnvID // go-smtp xtext-encodes it
	}
	return opts
}

// rcptOptions builds RCPT TO's DSN parameters, sent only when the peer
// offers DSN. A value that cannot be sent as is, is dropped rather than
// failing the recipient: DSN parameters are advisory.
func rcptOptions(r deliver.Recipient) *smtp.RcptOptions {
	opts := &smtp.RcptOptions{Notify: parseNotify(r.Notify)}
	typ, addr, ok := strings.Cut(r.ORcpt, ";")
	switch {
	case !ok || addr == "":
	case strings.EqualFold(typ, "rfc822") && printableASCII(addr):
		opts.OriginalRecipientType = smtp.DSNAddressTypeRFC822
		opts.OriginalRecipient = addr
	case strings.EqualFold(typ, "utf-8"):
		opts.OriginalRecipientType = smtp.DSNAddressTypeUTF8
		opts.OriginalRecipient = addr
	}
	return opts
}

// parseNotify reads "NEVER" or a comma list of SUCCESS, FAILURE, DELAY
// (RFC 3461 4.1). Anything else gives nil: the peer's default.
func parseNotify(s string) []smtp.DSNNotify {
	if s == "" {
		return nil
	}
	var out []smtp.DSNNotify
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
		out = append(out, smtp.DSNNotify(v))
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
