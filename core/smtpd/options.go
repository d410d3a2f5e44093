package smtpd

import "github.com/emersion/go-smtp"

// ESMTP parameters on MAIL and RCPT are for clients that said EHLO
// (RFC 5321 4.1.1.11 and 2.2.1); after a plain HELO they are refused
// with 555 5.5.4, as Postfix does, instead of being honoured. go-smtp
// parses them either way, so the session checks what it parsed.

// esmtp reports whether the client greeted with EHLO.
func (s *session) esmtp() bool { return s.c.ehlo.Load() }

// mailOptionsAfterHelo names the first MAIL parameter a HELO client
// gave, or returns "". (SIZE=0 parses to no size and passes unseen.)
func mailOptionsAfterHelo(s *session, o *smtp.MailOptions) string {
	switch {
	case s.esmtp() || o == nil:
		return ""
	case o.Size > 0:
		return "SIZE"
	case o.UTF8:
		return "SMTPUTF8"
	case o.Body != "":
		return "BODY"
	case o.Return != "":
		return "RET"
	case o.EnvelopeID != "":
		return "ENVID"
	case o.Auth != nil:
		return "AUTH"
	case o.RequireTLS:
		return "REQUIRETLS"
	}
	return ""
}

// rcptOptionsAfterHelo is the same for RCPT.
func rcptOptionsAfterHelo(s *session, o *smtp.RcptOptions) string {
	switch {
	case s.esmtp() || o == nil:
		return ""
	case len(o.Notify) > 0:
		return "NOTIFY"
	case o.OriginalRecipientType != "":
		return "ORCPT"
	}
	return ""
}
