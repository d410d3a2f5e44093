package tlsrpt

// ResultType is an RFC 8460 §4.3 result type, the reason a session
// failed (IANA "STARTTLS Validation Result Types").
type ResultType string

const (
	// Negotiation failures.
	STARTTLSNotSupported    ResultType = "starttls-not-supported"
	CertificateHostMismatch ResultType = "certificate-host-mismatch"
	CertificateExpired      ResultType = "certificate-expired"
	CertificateNotTrusted   ResultType = "certificate-not-trusted"
	ValidationFailure       ResultType = "validation-failure" // any other
	// DANE policy failures.
	TLSAInvalid   ResultType = "tlsa-invalid"
	DNSSECInvalid ResultType = "dnssec-invalid"
	DANERequired  ResultType = "dane-required"
	// MTA-STS policy failures.
	STSPolicyFetchError ResultType = "sts-policy-fetch-error"
	STSPolicyInvalid    ResultType = "sts-policy-invalid"
	STSWebPKIInvalid    ResultType = "sts-webpki-invalid"
)

// PolicyType says which policy applied to a session (RFC 8460 §4.4).
type PolicyType string

const (
	STS      PolicyType = "sts"
	TLSA     PolicyType = "tlsa"
	NoPolicy PolicyType = "no-policy-found"
)

// Policy names the policy a session ran under; sessions under the same
// policy are counted together.
type Policy struct {
	Type   PolicyType
	Domain string   // the recipient (policy) domain, lower case
	String []string // the policy's lines (sts) or TLSA records; nil for none
	MXHost []string // sts: the policy's mx patterns; tlsa: the MX host
}

// Session is the outcome of one attempt to set up a TLS session with
// one address of an MX host.
type Session struct {
	Policy Policy
	// Result is "" for a session that met the policy, else why not.
	Result      ResultType
	SendingIP   string // our end of the connection
	ReceivingIP string // the MX address
	MXHost      string // receiving-mx-hostname
	MXHelo      string // receiving-mx-helo, when known
	// Detail is additional-information, for a failure: a short text
	// such as the verification error.
	Detail string
}

// Recorder takes session outcomes: the smtp agent's TLS results, which
// the daemon maps onto Sessions (its report hook), and the MTA-STS
// policies that could not be fetched. It is called from delivery
// goroutines and must not block.
type Recorder interface {
	Record(Session)
}
