package auth

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Verifier checks SPF, DKIM and DMARC of inbound mail in cleanup. Its
// fields are set once before use.
type Verifier struct {
	Resolver   dns.Resolver
	AuthservID string         // our name in Authentication-Results
	Networks   []netip.Prefix // mynetworks: their mail is not checked
	// MaxSignatures bounds the DKIM signatures verified (default 5);
	// MaxLookups the DKIM key and DMARC questions (default 20); Timeout
	// all the checks of one message (default 15s).
	MaxSignatures int
	MaxLookups    int
	Timeout       time.Duration
	Log           *slog.Logger
	// Sample draws against DMARC pct= (default rand.Float64).
	Sample func() float64
}

// Applies implements cleanup.Verifier: mail originating here is not
// checked (it is ours to sign, not to judge).
func (v *Verifier) Applies(env *queue.Envelope) bool { return !IsOriginating(env, v.Networks) }

// Check implements cleanup.Verifier. It never fails: every problem is a
// result (temperror when DNS did not answer in time, permerror for a
// broken record or signature).
func (v *Verifier) Check(ctx context.Context, env *queue.Envelope, h *textproto.Header, body io.Reader) *policy.AuthResults {
	ctx, cancel := context.WithTimeout(ctx, orDuration(v.Timeout, 15*time.Second))
	defer cancel()
	l := newLookups(v.Resolver, orInt(v.MaxLookups, 20))
	res := &policy.AuthResults{}
	res.SPF, res.SPFDomain = v.checkSPF(ctx, l, env)
	res.SPFHelo, res.Helo = v.checkHelo(ctx, l, env)
	var bh *bodyHasher
	if h.Has("ARC-Seal") { // the ARC checks need the body hashes too
		bh = newBodyHasher()
		body = io.TeeReader(body, bh)
	}
	res.DKIM = v.checkDKIM(ctx, l, h, body)
	res.ARC = "none"
	if bh != nil {
		io.Copy(io.Discard, body) // DKIM may stop reading early
		simple, relaxed := bh.sums()
		res.ARC, res.ARCSealers = checkARC(ctx, l, h, simple, relaxed)
	}
	res.DMARC = v.checkDMARC(ctx, l, h, res)
	v.log().Info("authentication", "queue_id", env.ID, "spf", res.SPF, "dkim", dkimSummary(res.DKIM),
		"dmarc", res.DMARC.Result, "dmarc_policy", res.DMARC.Policy, "arc", res.ARC, "from_domain", res.DMARC.Domain)
	return res
}

// checkSPF evaluates the MAIL FROM identity, or postmaster@HELO for the
// null sender (RFC 7208 2.4), and returns the result and the domain.
func (v *Verifier) checkSPF(ctx context.Context, l *lookups, env *queue.Envelope) (string, string) {
	ip := net.ParseIP(env.Client.Addr)
	sender := env.Sender
	if sender == "" {
		sender = "postmaster@" + env.Client.Helo
	}
	domain := domainPart(sender)
	if ip == nil || domain == "" {
		return "none", domain
	}
	r, err := spf.CheckHostWithSender(ip, env.Client.Helo, sender, spf.WithContext(ctx), spf.WithResolver(l))
	if err != nil && r != spf.Pass {
		v.log().Debug("spf", "queue_id", env.ID, "result", string(r), "err", err)
	}
	return string(r), domain
}

// checkHelo evaluates the HELO identity on its own when MAIL FROM was
// not null (for the null sender it is the MAIL FROM check already) and
// HELO names a domain, not an address literal.
func (v *Verifier) checkHelo(ctx context.Context, l *lookups, env *queue.Envelope) (string, string) {
	helo := strings.ToLower(strings.TrimSuffix(env.Client.Helo, "."))
	ip := net.ParseIP(env.Client.Addr)
	if env.Sender == "" || ip == nil || !strings.Contains(helo, ".") || !validDomain(helo) {
		return "", ""
	}
	r, _ := spf.CheckHostWithSender(ip, helo, "postmaster@"+helo, spf.WithContext(ctx), spf.WithResolver(l))
	return string(r), helo
}

func domainPart(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// checkDKIM verifies up to MaxSignatures signatures, in header order.
func (v *Verifier) checkDKIM(ctx context.Context, l *lookups, h *textproto.Header, body io.Reader) []policy.DKIMResult {
	sigs := h.Values("DKIM-Signature")
	if len(sigs) == 0 {
		return nil
	}
	max := orInt(v.MaxSignatures, 5)
	var head bytes.Buffer
	textproto.WriteHeader(&head, *h)
	vs, err := dkim.VerifyWithOptions(io.MultiReader(&head, body), &dkim.VerifyOptions{MaxVerifications: max,
		LookupTXT: func(name string) ([]string, error) { return l.txt(ctx, name) }})
	if err != nil && err != dkim.ErrTooManySignatures {
		return []policy.DKIMResult{{Result: "permerror"}}
	}
	out := make([]policy.DKIMResult, 0, len(vs))
	for i, vr := range vs {
		r := policy.DKIMResult{Domain: strings.ToLower(vr.Domain), Result: dkimResult(vr.Err)}
		if i < len(sigs) {
			if tags, err := ParseTags(sigs[i]); err == nil {
				r.Selector = strings.TrimSpace(tags["s"])
			}
		}
		out = append(out, r)
	}
	return out
}

// dkimResult maps a verification error to an RFC 8601 result.
func dkimResult(err error) string {
	switch {
	case err == nil:
		return "pass"
	case dkim.IsTempFail(err):
		return "temperror"
	case dkim.IsPermFail(err):
		return "permerror"
	}
	return "fail"
}

// checkDMARC evaluates the From domain's policy against the results.
func (v *Verifier) checkDMARC(ctx context.Context, l *lookups, h *textproto.Header, res *policy.AuthResults) policy.DMARCResult {
	from := FromDomain(h)
	if from == "" || len(h.Values("From")) != 1 {
		return policy.DMARCResult{Result: "permerror", Domain: from}
	}
	rec, at, r := findDMARC(ctx, l, from)
	if rec == nil {
		return policy.DMARCResult{Result: r, Domain: from}
	}
	in := dmarcInput{From: from, SPF: res.SPF, SPFDomain: res.SPFDomain}
	for _, d := range res.DKIM {
		if d.Result == "pass" {
			in.DKIMPass = append(in.DKIMPass, d.Domain)
		}
	}
	sample := rand.Float64
	if v.Sample != nil {
		sample = v.Sample
	}
	return evaluateDMARC(in, rec, at, sample())
}

func dkimSummary(rs []policy.DKIMResult) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Domain + "=" + r.Result
	}
	return strings.Join(parts, ",")
}

func (v *Verifier) log() *slog.Logger {
	if v.Log != nil {
		return v.Log
	}
	return slog.Default()
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
