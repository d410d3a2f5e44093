// Package addr splits envelope addresses the way local(8) and pipe(8)
// need them: local part, domain, user and address extension.
package addr

import "strings"

// Parts is an address taken apart. For "Joe+list@Example.org" with
// delimiter "+": Local "Joe+list", Domain "Example.org", User "Joe",
// Extension "list". Nothing is case-folded here.
type Parts struct {
	Addr      string
	Local     string
	Domain    string
	User      string
	Extension string
}

// Split takes addr apart at its last "@" (a quoted local part may hold
// "@"). delims lists the recipient delimiter characters, as Postfix's
// recipient_delimiter does; the extension starts after the first one.
func Split(address, delims string) Parts {
	p := Parts{Addr: address, Local: address}
	if i := strings.LastIndexByte(address, '@'); i >= 0 {
		p.Local, p.Domain = address[:i], address[i+1:]
	}
	p.User = p.Local
	if delims != "" {
		// A leading delimiter (as in "+foo" or "owner-") is part of the
		// name, not an extension: Postfix never strips to an empty user.
		if i := strings.IndexAny(p.Local, delims); i > 0 {
			p.User, p.Extension = p.Local[:i], p.Local[i+1:]
		}
	}
	return p
}

// HeaderPrefix returns the Return-Path and Delivered-To header lines
// local delivery prepends, CRLF-terminated like the stored message. An
// empty deliveredTo leaves that header out.
func HeaderPrefix(sender, deliveredTo string, returnPath bool) string {
	var b strings.Builder
	if returnPath {
		b.WriteString("Return-Path: <" + oneLine(sender) + ">\r\n")
	}
	if deliveredTo != "" {
		b.WriteString("Delivered-To: " + oneLine(deliveredTo) + "\r\n")
	}
	return b.String()
}

// oneLine keeps an address from injecting header lines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}
