package app

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/mtasts"
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// outboundTLS is what the smtp client asks about the TLS of a recipient
// domain beyond its own level: the MTA-STS policies (smtp.mta_sts) and
// TLS reporting ([tlsrpt]). Both keep their state in the spool, so a
// restart keeps policies and the day's counts.
type outboundTLS struct {
	sts    smtpc.STSSource // nil when smtp.mta_sts = false
	record tlsrpt.Recorder // nil when tlsrpt.enabled = false
	report *tlsrpt.Service // sends the reports; nil likewise
	sender string          // the reports' envelope sender; "" likewise
}

func newOutboundTLS(cfg *config.Config, res dns.Resolver, clean *cleanup.Cleanup, log *slog.Logger) outboundTLS {
	var out outboundTLS
	if cfg.SMTP.MTASTSEnabled() {
		f := &mtasts.Fetcher{Resolver: res}
		f.Init()
		out.sts = &mtasts.Cache{Resolver: res, Fetcher: f, Dir: filepath.Join(cfg.SpoolDir, "mta-sts"), Logger: role(log, "smtp")}
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
