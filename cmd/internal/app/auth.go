package app

import (
	"log/slog"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/config"
)

// buildSigner loads the [[dkim.sign]] keys; a key that does not load is
// an error, at start as at `moonpost check`.
func buildSigner(cfg *config.Config, log *slog.Logger) (*auth.Signer, error) {
	keys, err := auth.NewKeyring(cfg.DKIM.Sign, log)
	if err != nil {
		return nil, err
	}
	return &auth.Signer{Keys: keys, Networks: cfg.Networks(), Headers: cfg.DKIM.Headers}, nil
}
