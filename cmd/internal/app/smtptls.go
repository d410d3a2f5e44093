package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/mtasts"
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// smtpTLS fills the smtp client's TLS policy, sources and per-connection
// bound from the [smtp] section (already validated by config).
func smtpTLS(sc *smtpc.Config, cfg *config.Config) error {
	level, err := smtpc.ParseTLSPolicy(cfg.SMTP.TLSSecurityLevel)
	if err != nil {
		return err
	}
	sc.TLS = level
	sc.DNSSEC = cfg.SMTP.DNSSupportLevel == "dnssec"
	sc.MaxDeliveriesPerConnection = cfg.SMTP.ReuseCountLimit
	if cfg.SMTP.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.SMTP.TLSCAFile)
		if err != nil {
			return fmt.Errorf("smtp.tls_ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("smtp.tls_ca_file %s: no PEM certificate in it", cfg.SMTP.TLSCAFile)
		}
		sc.TLSConfig = &tls.Config{RootCAs: roots}
	}
	for _, s := range cfg.SMTP.Sources {
		ip, err := netip.ParseAddr(s.Address)
		if err != nil {
			return fmt.Errorf("smtp.source %q: %w", s.Name, err)
		}
		sc.Sources = append(sc.Sources, smtpc.Source{Name: s.Name, Addr: ip, Helo: s.EHLO})
	}
	for _, p := range cfg.SMTP.Pools {
		sc.Pools = append(sc.Pools, smtpc.Pool{Name: p.Name, Sources: p.Sources, Weights: p.Weights})
	}
	return nil
}

// outboundTLS is what the smtp client asks about the TLS of a recipient
// domain beyond its own level: the MTA-STS policies (smtp.mta_sts,
// through smtp.Config.Policy) and TLS reporting ([tlsrpt], through
// smtp.Config.Report). Both keep their state in the spool, so a restart
// keeps policies and the period's counts.
type outboundTLS struct {
	sts    *mtasts.Cache   // nil when smtp.mta_sts = false
	record tlsrpt.Recorder // nil when tlsrpt.enabled = false
	report *tlsrpt.Service // sends the reports; nil likewise
	sender string          // the reports' envelope sender; "" likewise
	log    *slog.Logger
}

func newOutboundTLS(cfg *config.Config, res dns.Resolver, clean *cleanup.Cleanup, log *slog.Logger) outboundTLS {
	out := outboundTLS{log: role(log, "smtp")}
	if cfg.SMTP.MTASTSEnabled() {
		f := &mtasts.Fetcher{Resolver: res}
		f.Init()
		out.sts = &mtasts.Cache{Resolver: res, Fetcher: f, Dir: filepath.Join(cfg.SpoolDir, "mta-sts"), Logger: out.log}
	}
	if r := cfg.TLSRPT; r.Enabled {
		store := &tlsrpt.Store{Dir: filepath.Join(cfg.SpoolDir, "tlsrpt"), Interval: r.Interval.D(), Logger: role(log, "tlsrpt")}
		out.record, out.sender = store, r.From
		out.report = &tlsrpt.Service{Store: store, Resolver: res, Submitter: clean,
			OrganizationName: r.OrganizationName, ContactInfo: r.ContactInfo, From: r.From,
			FlushEvery: min(30*time.Second, r.Interval.D()), Logger: role(log, "tlsrpt")}
	}
	return out
}

// wire plugs the policies and the reports into the smtp client's hooks.
func (o outboundTLS) wire(sc *smtpc.Config) {
	if o.sts != nil {
		sc.Policy = o.policy
	}
	if o.record != nil {
		sc.Report, sc.TLSReportSender = o.reportResult, o.sender
	}
}

// policy is the smtp client's PolicyFunc over the MTA-STS cache. A
// policy that cannot be had (and none cached) is no policy, as RFC 8461
// section 5.1 asks: the mail goes as without one, and the failure is
// counted for the domain's TLS report. Only a delivery whose context
// ended gets an error, which defers it.
func (o outboundTLS) policy(ctx context.Context, domain string) (*smtpc.DomainPolicy, error) {
	p, err := o.sts.Policy(ctx, domain)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		o.fetchFailed(domain, err)
		return nil, nil
	}
	if p == nil || p.Mode == mtasts.None {
		return nil, nil
	}
	return &smtpc.DomainPolicy{Enforce: p.Mode == mtasts.Enforce, MX: p.Match, Type: string(tlsrpt.STS),
		Strings: p.Lines, MXPatterns: p.MX}, nil
}

// fetchFailed counts a policy the domain announced but that could not
// be fetched or parsed: sts-policy-fetch-error, sts-policy-invalid or
// sts-webpki-invalid, as the cache's error says.
func (o outboundTLS) fetchFailed(domain string, err error) {
	o.log.Info("mta-sts: no policy to apply, delivering without one", "domain", domain, "err", err)
	if o.record == nil {
		return
	}
	ses := tlsrpt.Session{Policy: tlsrpt.Policy{Type: tlsrpt.STS, Domain: strings.ToLower(domain)},
		Result: tlsrpt.STSPolicyFetchError, Detail: err.Error()}
	var se *mtasts.Error
	if errors.As(err, &se) {
		ses.Result, ses.Detail = tlsrpt.ResultType(se.Type), se.Err.Error()
	}
	o.record.Record(ses)
}

// reportResult is the smtp client's ReportFunc: one TLS outcome, as a
// TLS-RPT session of its policy.
func (o outboundTLS) reportResult(r smtpc.TLSResult) {
	pol := tlsrpt.Policy{Type: tlsrpt.PolicyType(r.PolicyType), Domain: strings.ToLower(r.PolicyDomain),
		String: r.PolicyStrings, MXHost: r.PolicyMXHosts}
	if pol.Type == tlsrpt.TLSA {
		pol.MXHost = []string{r.MXHost} // a TLSA policy is the MX host's own
	}
	o.record.Record(tlsrpt.Session{Policy: pol, Result: tlsrpt.ResultType(r.ResultType), MXHost: r.MXHost,
		SendingIP: ipString(r.SendingIP), ReceivingIP: ipString(r.ReceivingIP), Detail: r.Detail})
}

func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}
