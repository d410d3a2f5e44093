package app

import (
	"fmt"
	"log/slog"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/dns"
)

// buildSigner loads the [[dkim.sign]] keys; a key that does not load is
// an error, at start as at `moonpost check`.
func buildSigner(cfg *config.Config, log *slog.Logger) (*auth.Signer, error) {
	keys, err := auth.NewKeyring(cfg.DKIM.Sign, log)
	if err != nil {
		return nil, err
	}
	if len(cfg.DKIM.Sign) > 0 && log != nil {
		log.Info("dkim signing keys loaded", "entries", len(cfg.DKIM.Sign), "rsa", auth.RSALibrary())
	}
	s := &auth.Signer{Keys: keys, Networks: cfg.Networks(), Headers: cfg.DKIM.Headers,
		ARCDomain: cfg.DKIM.ARCDomain, ARCSelector: cfg.DKIM.ARCSelector, AuthservID: cfg.Auth.AuthservID}
	if s.SealsARC() {
		if k, err := keys.Keys(s.ARCDomain, s.ARCSelector); err != nil || len(k) == 0 {
			return nil, fmt.Errorf("dkim.arc_domain: no [[dkim.sign]] key for %s selector %s", s.ARCDomain, s.ARCSelector)
		}
	}
	return s, nil
}

// buildVerifier checks inbound mail unless auth.verify is off.
func buildVerifier(cfg *config.Config, res dns.Resolver, log *slog.Logger) cleanup.Verifier {
	if !cfg.Auth.Verify {
		return nil
	}
	return &auth.Verifier{Resolver: res, AuthservID: cfg.Auth.AuthservID, Networks: cfg.Networks(),
		MaxSignatures: cfg.Auth.MaxSignatures, MaxLookups: cfg.Auth.MaxLookups, Timeout: cfg.Auth.Timeout.D(), Log: log}
}
