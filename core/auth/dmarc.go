package auth

import (
	"context"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/moonpost/moonpost/core/policy"
)

// DMARC (RFC 7489): the policy record of the From domain, identifier
// alignment of the SPF and DKIM results with it, and the disposition the
// domain asks for. The record syntax is go-msgauth's; everything else is
// here.

// dmarcInput is what DMARC evaluates.
type dmarcInput struct {
	From      string   // the RFC5322.From domain
	SPF       string   // SPF result
	SPFDomain string   // the domain SPF checked (MAIL FROM, else HELO)
	DKIMPass  []string // d= of every signature that passed
}

// OrgDomain is the organisational domain (RFC 7489 3.2): the public
// suffix plus one label, or the name itself when it has none.
func OrgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}

// aligned compares an authenticated domain with the From domain, in
// strict ("s") or relaxed (anything else) mode.
func aligned(mode dmarc.AlignmentMode, id, from string) bool {
	id, from = strings.ToLower(strings.TrimSuffix(id, ".")), strings.ToLower(from)
	if id == "" || from == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return id == from
	}
	return OrgDomain(id) == OrgDomain(from)
}

// findDMARC looks the record up at the From domain, then at its
// organisational domain (RFC 7489 6.6.3). It returns the record and the
// domain it was found at, or a result: none, temperror, permerror.
func findDMARC(ctx context.Context, l *lookups, from string) (*dmarc.Record, string, string) {
	at := from
	rec, res := lookupDMARC(ctx, l, at)
	if res == "none" {
		if org := OrgDomain(from); org != from {
			at = org
			rec, res = lookupDMARC(ctx, l, at)
		}
	}
	return rec, at, res
}

func lookupDMARC(ctx context.Context, l *lookups, domain string) (*dmarc.Record, string) {
	rec, err := dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{
		LookupTXT: func(name string) ([]string, error) { return l.txt(ctx, name) }})
	switch {
	case err == nil:
		return rec, ""
	case err == dmarc.ErrNoPolicy:
		return nil, "none"
	case dmarc.IsTempFail(err):
		return nil, "temperror"
	case strings.Contains(err.Error(), "failed to lookup"):
		return nil, "none" // a permanent DNS error other than NXDOMAIN
	}
	return nil, "permerror"
}

// evaluateDMARC decides pass or fail and the disposition for a found
// record. sample, in [0,1), is the draw against pct= (RFC 7489 6.6.4):
// a failing message outside the sample gets the next milder treatment.
func evaluateDMARC(in dmarcInput, rec *dmarc.Record, at string, sample float64) policy.DMARCResult {
	out := policy.DMARCResult{Domain: in.From, Policy: string(rec.Policy)}
	if at != in.From && rec.SubdomainPolicy != "" {
		out.Policy = string(rec.SubdomainPolicy)
	}
	pass := in.SPF == "pass" && aligned(rec.SPFAlignment, in.SPFDomain, in.From)
	for _, d := range in.DKIMPass {
		pass = pass || aligned(rec.DKIMAlignment, d, in.From)
	}
	if pass {
		out.Result, out.Disposition = "pass", "none"
		return out
	}
	out.Result, out.Disposition = "fail", out.Policy
	if rec.Percent != nil && sample*100 >= float64(*rec.Percent) {
		switch out.Policy {
		case "reject":
			out.Disposition = "quarantine"
		case "quarantine":
			out.Disposition = "none"
		}
	}
	if out.Disposition == "" {
		out.Disposition = "none"
	}
	return out
}
