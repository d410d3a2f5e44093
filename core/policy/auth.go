package policy

// SignRequest is one DKIM signature a cleanup policy asks for. Selector
// and Key may be empty: the configured [[dkim.sign]] entry for Domain
// (and Selector) supplies them.
type SignRequest struct {
	Domain   string
	Selector string
	Key      string // PEM key file; "" for the configured key
}

// DKIMChoice is the cleanup policy's signing decision. When it is set on
// a Message, exactly its Requests are signed (none for an empty list),
// whatever the default would have done.
type DKIMChoice struct {
	Requests []SignRequest
}

// AuthResults is what inbound authentication found (core/auth), for
// policy to read: a nil *AuthResults means the message was not checked
// (it originates here, or verification is off).
type AuthResults struct {
	SPF string // pass, fail, softfail, neutral, none, temperror, permerror
	// SPFDomain is the domain SPF checked: the MAIL FROM domain, or the
	// HELO name for the null sender.
	SPFDomain string
	// SPFHelo is SPF of the HELO name on its own (RFC 7208 2.3), when the
	// sender is not null and HELO is a domain; "" when not checked.
	SPFHelo string
	Helo    string       // the HELO name SPFHelo is about
	DKIM    []DKIMResult // one per signature, in header order
	DMARC   DMARCResult
	// ARC is the ARC chain validation (RFC 8617): none, pass or fail.
	ARC string
	// ARCSealers are the d= of a passing chain's ARC-Seals, oldest
	// (i=1) first, so policy can trust only sealers it knows.
	ARCSealers []string
}

// DKIMResult is the outcome of one DKIM-Signature.
type DKIMResult struct {
	Domain   string // d=
	Selector string // s=
	Result   string // pass, fail, neutral, temperror, permerror
}

// DMARCResult is the DMARC evaluation of the From domain.
type DMARCResult struct {
	Result string // pass, fail, none, temperror, permerror
	Policy string // the domain's policy (p=, or sp= for a subdomain): none, quarantine, reject
	// Disposition is what the policy asks for this message: the policy
	// for a failure (one step milder outside pct=), none for a pass.
	Disposition string
	Domain      string // the RFC5322.From domain evaluated
}
