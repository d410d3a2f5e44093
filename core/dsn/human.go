package dsn

import (
	"fmt"
	"strings"
	"time"
)

// The human-readable part follows Postfix's bounce templates closely, so
// that people (and their mail clients) see the wording they know.

const signature = "                   The mail system\r\n"

const warningBanner = "" +
	"####################################################################\r\n" +
	"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n" +
	"####################################################################\r\n"

const assistance = "For further assistance, please send mail to %s.\r\n\r\n" +
	"If you do so, please include this problem report. You can\r\n" +
	"delete your own text from the attached returned message.\r\n\r\n"

// humanText builds the text/plain part: an introduction by kind, then one
// paragraph per recipient with its reason.
func humanText(n *Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This is the mail system at host %s.\r\n\r\n", clean(n.ReportingMTA))
	switch {
	case n.Kind == Failure && n.Double:
		b.WriteString(wrap("The message returned below was itself a delivery status "+
			"notification, and it could not be delivered to one or more recipients. "+
			"A notification is never returned to its sender, so this copy comes to "+
			"the postmaster instead. If this copy cannot be delivered either, it is "+
			"discarded.", ""))
		b.WriteString("\r\n" + signature)
	case n.Kind == Failure:
		b.WriteString("I'm sorry to have to inform you that your message could not\r\n" +
			"be delivered to one or more recipients. It's attached below.\r\n\r\n")
		fmt.Fprintf(&b, assistance, postmasterName(n))
		b.WriteString(signature)
	case n.Kind == Delay:
		b.WriteString(warningBanner + "\r\n")
		for _, line := range delayLines(n) {
			b.WriteString(wrap(line, ""))
		}
		b.WriteString("\r\n")
		fmt.Fprintf(&b, assistance, postmasterName(n))
		b.WriteString(signature)
	default:
		b.WriteString("Your message was successfully delivered to the destination(s)\r\n" +
			"listed below. If the message was delivered to mailbox you will\r\n" +
			"receive no further notifications. Otherwise you may still receive\r\n" +
			"notifications of mail delivery errors from other systems.\r\n\r\n")
		b.WriteString(signature)
	}
	for i := range n.Recipients {
		b.WriteString("\r\n")
		b.WriteString(wrap(recipientLine(n.Kind, &n.Recipients[i]), "    "))
	}
	return b.String()
}

func postmasterName(n *Notification) string {
	if p := clean(n.Postmaster); p != "" {
		return p
	}
	return "postmaster"
}

// delayLines say how long the message has waited and, when known, until
// when it is retried (the latest Will-Retry-Until of the recipients).
func delayLines(n *Notification) []string {
	lines := []string{"Your message could not be delivered yet."}
	if !n.Arrival.IsZero() && n.Now.After(n.Arrival) {
		lines[0] = fmt.Sprintf("Your message could not be delivered for %.1f hour(s).",
			n.Now.Sub(n.Arrival).Hours())
	}
	var until time.Time
	for _, r := range n.Recipients {
		if r.WillRetryUntil.After(until) {
			until = r.WillRetryUntil
		}
	}
	if !until.IsZero() {
		lines = append(lines, "It will be retried until "+until.Format(dateFormat)+".")
	}
	return lines
}

// recipientLine is Postfix's "<addr> (expanded from <orig>): reason".
func recipientLine(k Kind, r *RcptReport) string {
	s := "<" + clean(r.Final) + ">"
	if orig := orcptAddress(r.ORcpt); orig != "" && !strings.EqualFold(orig, r.Final) {
		s += " (expanded from <" + clean(orig) + ">)"
	}
	reason := r.status(k).Error()
	if r.DiagnosticCode != "" {
		_, reason, _ = strings.Cut(typed(r.DiagnosticCode, "smtp"), ";")
	}
	if host := remoteHost(r.RemoteMTA); host != "" {
		reason = "host " + host + " said: " + strings.TrimSpace(reason)
	}
	return s + ": " + clean(reason)
}

// orcptAddress returns the address part of "type;address".
func orcptAddress(orcpt string) string {
	if _, addr, ok := strings.Cut(orcpt, ";"); ok {
		return strings.TrimSpace(addr)
	}
	return strings.TrimSpace(orcpt)
}

// remoteHost strips the "dns;" type from a Remote-MTA value.
func remoteHost(mta string) string {
	if mta == "" {
		return ""
	}
	_, host, _ := strings.Cut(typed(mta, "dns"), ";")
	return clean(host)
}

// wrap breaks text into CRLF lines near 72 columns, continuation lines
// starting with indent, the way Postfix prints recipient reasons. Input is
// cleaned first, so a reason cannot carry a line of its own into the
// message (a fake MIME boundary, say).
func wrap(text, indent string) string {
	var b strings.Builder
	col := 0
	for _, word := range strings.Fields(clean(text)) {
		if col > 0 && col+1+len(word) > 72 {
			b.WriteString("\r\n" + indent)
			col = len(indent)
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	b.WriteString("\r\n")
	return b.String()
}
