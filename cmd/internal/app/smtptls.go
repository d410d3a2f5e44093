package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"

	"github.com/moonpost/moonpost/core/config"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
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
