package classify

import (
	"slices"
	"strings"
)

// Class names why a delivery failed. The names are snake_case and stable:
// they are stored in queue files, written to logs and compared by
// policy scripts.
type Class string

// The classes. A rule may only name one of these (see Classes).
const (
	InvalidRecipient Class = "invalid_recipient" // no such user, mailbox disabled or gone
	BadDomain        Class = "bad_domain"        // no such domain, null MX, no mail host
	MailboxFull      Class = "mailbox_full"      // over quota, storage full
	SpamBlock        Class = "spam_block"        // the sending IP or domain is blocked: blocklists, reputation
	Policy           Class = "policy"            // refused by policy: authentication (SPF, DKIM, DMARC), relaying, sender
	Content          Class = "content"           // the message itself: spam or virus content, size, format
	RateLimited      Class = "rate_limited"      // too much, too fast: throttling, too many connections
	Transient        Class = "transient"         // a temporary failure with no more specific reason
	Unclassified     Class = "unclassified"      // a permanent failure no rule recognised
)

// Classes lists every class, in the order the documentation gives them.
var Classes = []Class{InvalidRecipient, BadDomain, MailboxFull, SpamBlock, Policy, Content, RateLimited, Transient, Unclassified}

// Known reports whether name is one of Classes.
func Known(name string) bool { return slices.Contains(Classes, Class(name)) }

// Names is Classes as strings, comma separated, for error messages.
func Names() string {
	s := make([]string, len(Classes))
	for i, c := range Classes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
