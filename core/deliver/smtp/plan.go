package smtp

import (
	"context"
	"fmt"
	"strconv"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dsn"
)

// OptTLSLevel is the smtp transport's route option that sets the TLS
// security level of a delivery (a per-destination policy, like an
// entry of Postfix's smtp_tls_policy_maps).
const OptTLSLevel = "tls_security_level"

// tlsPlan is the TLS policy of one delivery, before it is applied per
// mail exchanger.
type tlsPlan struct {
	level    TLSPolicy // the requested level
	explicit bool      // set by the route or the egress policy, not the default
	domain   string    // the next-hop domain: secure matches it, reports name it
	sts      *DomainPolicy
	// dnssec: the MX answer (or, for a bracketed next hop, the absence
	// of an MX lookup) allows DANE for the hosts.
	dnssec bool
	// quiet: the sessions are not reported (Config.Report): a bracketed
	// next hop has no policy domain, and a TLS report's own sessions
	// are not counted (RFC 8460 section 5.3).
	quiet bool
}

// hostTLS is the policy applied to one mail exchanger.
type hostTLS struct {
	level  TLSPolicy
	name   string // what the outcome line calls it: "may", "dane", "sts", ...
	host   string // the MX host: SNI, and the name verify checks
	domain string // the next hop: the names secure accepts (and subdomains)
	tlsa   []dns.TLSA
	// sts: the MTA-STS policy checked; with Enforce false a failed
	// check is reported, not enforced.
	sts    *DomainPolicy
	rptTyp string   // TLS-RPT policy-type
	rptStr []string // TLS-RPT policy-string
	rptMX  []string // TLS-RPT mx-host: an MTA-STS policy's mx patterns
	quiet  bool     // not reported, as tlsPlan.quiet
	// stsMiss: a policy in testing mode does not list the host; the
	// session is reported as a validation failure.
	stsMiss bool
}

// Deferrals of a TLS policy that cannot be met. The codes are Postfix's.
var (
	badTLSLevel  = dsn.New(451, "4.3.5", "mail system configuration error: bad TLS security level")
	badSource    = dsn.New(451, "4.3.5", "mail system configuration error: unknown source address")
	policyFailed = dsn.New(451, "4.7.5", "TLS policy lookup failed")
	tlsaFailed   = dsn.New(451, "4.7.5", "TLSA lookup error")
	daneRequired = dsn.New(451, "4.7.5", "DANE is required, but no DNSSEC-validated TLSA records were found")
	stsMXRefused = dsn.New(451, "4.7.5", "MX host not allowed by the domain's MTA-STS policy")
	certFailed   = dsn.New(451, "4.7.5", "Server certificate not verified")
)

// requestedLevel is the delivery's level: the route option, else the
// egress policy's, else the default.
func (a *Agent) requestedLevel(req *deliver.Request) (TLSPolicy, bool, error) {
	spec := req.Options[OptTLSLevel]
	if spec == "" && req.Egress != nil {
		spec = req.Egress.TLS
	}
	if spec == "" {
		return a.cfg.TLS, false, nil
	}
	p, err := ParseTLSPolicy(spec)
	return p, true, err
}

// plan chooses the delivery's TLS policy. The error is the deferral of
// every recipient.
func (a *Agent) plan(ctx context.Context, req *deliver.Request, nh Nexthop) (tlsPlan, *dsn.Status) {
	level, explicit, err := a.requestedLevel(req)
	if err != nil {
		a.log.Error("bad TLS security level", "queue_id", req.QueueID, "err", err)
		return tlsPlan{}, badTLSLevel
	}
	report := a.isTLSReport(req)
	p := tlsPlan{level: level, explicit: explicit, domain: nh.Host, quiet: nh.NoMX || report}
	if report && level == TLSDane {
		// RFC 8460 section 5.3: a report goes out despite TLS failures,
		// so an opportunistic policy does not hold it back; the
		// operator's mandatory levels still do.
		p.level = TLSMay
	}
	if p.level.isDane() && !a.cfg.DNSSEC {
		a.log.Warn("DANE level without DNSSEC support (smtp.dns_support_level)", "queue_id", req.QueueID, "level", level)
	}
	if a.cfg.Policy != nil && !nh.NoMX && !report && p.takesPolicy() {
		sts, err := a.cfg.Policy(ctx, nh.Host)
		if err != nil {
			a.log.Info("TLS policy lookup failed", "queue_id", req.QueueID, "domain", nh.Host, "err", err)
			return tlsPlan{}, policyFailed
		}
		p.sts = sts
	}
	return p, nil
}

// takesPolicy reports whether an external policy may apply: under an
// opportunistic level, and under the default level unless it is none
// (a policy outranks the default as an entry of Postfix's
// smtp_tls_policy_maps does). A level the route or the egress policy
// set for the destination is final; so is dane-only.
func (p tlsPlan) takesPolicy() bool {
	switch p.level {
	case TLSMay, TLSDane:
		return true
	case TLSEncrypt, TLSVerify, TLSSecure:
		return !p.explicit
	}
	return false
}

// cacheTag is what, besides the next hop and source, a cached
// connection must share with a delivery to be reused by it: the
// level, and whether an external policy applied.
func (p tlsPlan) cacheTag() string {
	tag := p.level.String()
	if p.sts != nil {
		tag += "+" + p.sts.Type + strconv.FormatBool(p.sts.Enforce)
	}
	return tag
}

// forHost is the policy for one mail exchanger, whose addresses were
// validated (secure) or not. A TLSA lookup error or a dane-only host
// without usable records is the host's failure.
func (a *Agent) forHost(ctx context.Context, p tlsPlan, host string, port int, secure bool) (hostTLS, error) {
	h := hostTLS{level: p.level, name: p.level.String(), host: host, domain: p.domain, rptTyp: "no-policy-found", quiet: p.quiet}
	if !p.level.isDane() {
		return a.withSTS(h, p), nil
	}
	var recs []dns.TLSA
	if a.cfg.DNSSEC && p.dnssec && secure {
		var sec bool
		var err error
		recs, sec, err = a.cfg.Resolver.(dns.SecureResolver).LookupTLSA(ctx, "_"+strconv.Itoa(port)+"._tcp."+host)
		if err != nil {
			// A validating resolver answers SERVFAIL for bogus data.
			a.report(h, TLSResult{PolicyDomain: p.domain, PolicyType: "tlsa", MXHost: host, ResultType: "dnssec-invalid", Detail: err.Error()})
			return h, &hostError{tlsaFailed.WithText("TLSA lookup error for " + host), err, "failed policy=dane"}
		}
		if !sec {
			recs = nil // an unsigned answer proves nothing
		}
	}
	if len(recs) == 0 {
		if p.level == TLSDaneOnly {
			a.report(h, TLSResult{PolicyDomain: p.domain, PolicyType: "no-policy-found", MXHost: host, ResultType: "dane-required"})
			return h, &hostError{daneRequired.WithText("DANE is required, but " + host + " has no DNSSEC-validated TLSA records"),
				fmt.Errorf("%s: no secure TLSA records", host), "failed policy=dane-only"}
		}
		h.level, h.name = TLSMay, "may"
		return a.withSTS(h, p), nil
	}
	h.rptTyp = "tlsa"
	for _, r := range recs {
		h.rptStr = append(h.rptStr, r.String())
	}
	h.tlsa = usableTLSA(recs)
	if len(h.tlsa) == 0 {
		// RFC 7672 section 2.2: TLSA records exist, none usable: TLS is
		// still mandatory, authentication is not possible.
		h.level = TLSEncrypt
	}
	return h, nil
}

// withSTS applies an MTA-STS policy to a host policy without DANE. An
// enforced policy raises may and encrypt to verify; verify and secure
// already check at least as much, and keep their name. The MX patterns
// are checked under every level (stsAllows).
func (a *Agent) withSTS(h hostTLS, p tlsPlan) hostTLS {
	if p.sts == nil {
		return h
	}
	h.sts, h.rptTyp, h.rptStr, h.rptMX = p.sts, p.sts.Type, p.sts.Strings, p.sts.MXPatterns
	switch {
	case h.level.checksName():
	case p.sts.Enforce:
		h.level, h.name = TLSVerify, "sts"
	default:
		h.name = "sts-testing"
	}
	return h
}

// stsAllows checks the MX host against the policy's patterns. A host an
// enforced policy refuses is skipped, and reported as a failed session
// though none was opened; under a testing policy the session goes
// ahead and its report says so (hostTLS.stsMiss), counted once.
func (a *Agent) stsAllows(h *hostTLS) error {
	if h.sts == nil || h.sts.MX == nil || h.sts.MX(h.host) {
		return nil
	}
	if !h.sts.Enforce {
		h.stsMiss = true
		return nil
	}
	a.report(*h, TLSResult{PolicyDomain: h.domain, PolicyType: h.rptTyp, PolicyStrings: h.rptStr, PolicyMXHosts: h.rptMX,
		MXHost: h.host, ResultType: "validation-failure", Detail: "MX host not allowed by the policy"})
	return &hostError{stsMXRefused.WithText("MX host " + h.host + " not allowed by the MTA-STS policy of " + h.domain),
		fmt.Errorf("%s: not an MX host of the MTA-STS policy", h.host), "failed policy=sts"}
}

// usableTLSA keeps the records RFC 7672 lets SMTP use: DANE-TA(2) and
// DANE-EE(3), selector 0 or 1, matching type 0, 1 or 2 with data of the
// digest's length. PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP
// (section 3.1.3).
func usableTLSA(recs []dns.TLSA) []dns.TLSA {
	var out []dns.TLSA
	for _, r := range recs {
		if (r.Usage == 2 || r.Usage == 3) && r.Selector <= 1 && validDigest(r) {
			out = append(out, r)
		}
	}
	return out
}

func validDigest(r dns.TLSA) bool {
	switch r.MatchingType {
	case 0:
		return len(r.Data) > 0
	case 1:
		return len(r.Data) == 32
	case 2:
		return len(r.Data) == 64
	}
	return false
}
