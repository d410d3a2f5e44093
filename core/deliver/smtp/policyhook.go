package smtp

import (
	"context"
	"net/netip"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
)

// The hook points for TLS policy sources and TLS reporting outside this
// package (MTA-STS, RFC 8461; TLS-RPT, RFC 8460). Both are optional:
// with Config.Policy nil no domain has an external policy, with
// Config.Report nil outcomes are not reported.

// PolicyFunc looks up a next-hop domain's TLS policy, for MTA-STS. It is
// called once per delivery to a domain next hop (not for bracketed
// "[host]" next hops, nor for LMTP, nor for a TLS report: see
// Config.TLSReportSender), before the MX lookup, from the delivery's
// goroutine, and must honour ctx; it should answer from its own cache.
// It returns nil, nil when the domain has no policy. A non-nil error
// defers the delivery (451 4.7.5), so it is for a delivery that cannot
// go on (ctx ended): RFC 8461 section 5.1 wants a cached policy kept
// when a refresh fails, and mail sent as without a policy when none
// can be had, which is nil, nil (the function reports the fetch
// failure itself).
//
// The policy applies where the delivery's TLS level is opportunistic
// (may, or dane for a host without usable DANE records), and under the
// default level (Config.TLS) unless that is none: an operator's level
// for the destination (route option, egress policy) is final, DANE wins
// over MTA-STS (RFC 8461 section 2), and dane-only never takes it.
type PolicyFunc func(ctx context.Context, domain string) (*DomainPolicy, error)

// DomainPolicy is an external TLS policy of one domain.
type DomainPolicy struct {
	// Enforce: deliver only to MX hosts that MX allows, over TLS with a
	// certificate that verifies for the MX host name (level verify);
	// otherwise defer (4.7.5). Without Enforce (MTA-STS "testing") the
	// same checks run, failures are reported through Config.Report, and
	// mail goes out as the level underneath allows.
	Enforce bool
	// MX reports whether a mail exchanger's host name is allowed (the
	// MTA-STS "mx" patterns); nil allows every host.
	MX func(host string) bool
	// Type is the TLS-RPT policy-type reported with outcomes under this
	// policy ("sts"); Strings its policy-string (the policy's lines).
	Type    string
	Strings []string
	// MXPatterns are the policy's mx lines ("*.example.net"), the
	// TLS-RPT mx-host of the reports under it.
	MXPatterns []string
}

// TLSResult is the TLS outcome of one session, for TLS-RPT. It is sent
// to Config.Report for every session where STARTTLS was attempted, or
// that ended without TLS because the server did not offer it (under any
// level but none), and for every MX host a policy refused before
// connecting; never for a bracketed next hop, which has no policy
// domain, nor for a TLS report's own sessions (RFC 8460 section 5.3).
type TLSResult struct {
	PolicyDomain string // the next-hop domain ("example.com")
	// PolicyType is the TLS-RPT policy-type that applied: "sts", "tlsa"
	// or "no-policy-found".
	PolicyType    string
	PolicyStrings []string // the policy's strings; the TLSA records for "tlsa"
	PolicyMXHosts []string // an MTA-STS policy's mx patterns (DomainPolicy.MXPatterns)
	MXHost        string   // the host connected to (or refused)
	// SendingIP and ReceivingIP are the session's ends; invalid for an
	// MX host refused before connecting.
	SendingIP   netip.Addr
	ReceivingIP netip.Addr
	// ResultType is "" for a successful TLS session, else an RFC 8460
	// result-type: "starttls-not-supported", "certificate-host-mismatch",
	// "certificate-expired", "certificate-not-trusted",
	// "validation-failure" (also a certificate no TLSA record matches, a
	// failed handshake, an MX host an MTA-STS policy does not list),
	// "dnssec-invalid" (the TLSA lookup failed), "dane-required".
	ResultType string
	Detail     string // the failure in words, for failure-reason-code
}

// ReportFunc receives TLS outcomes. It is called from delivery
// goroutines, concurrently, and must not block: count, then return.
type ReportFunc func(TLSResult)

// report passes r, an outcome under h, on when someone listens and h
// is reported.
func (a *Agent) report(h hostTLS, r TLSResult) {
	if a.cfg.Report != nil && !h.quiet {
		a.cfg.Report(r)
	}
}

// isTLSReport tells the daemon's own TLS reports from other mail by
// their envelope sender. RFC 8460 section 5.3: reports go out despite
// TLS failures (a broken policy is what they are about), and their
// sessions are not reported. Someone else who sends with that sender
// relaxes only their own mail, to what the level underneath allows.
func (a *Agent) isTLSReport(req *deliver.Request) bool {
	return a.cfg.TLSReportSender != "" && strings.EqualFold(req.Sender, a.cfg.TLSReportSender)
}
