package app

import (
	"log/slog"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/milter"
)

// buildMilters returns cleanup's content filter: the [[milter]] tables,
// or nil when there are none. The Lua "milter" handlers judge each
// milter's answer.
func buildMilters(cfg *config.Config, pol *policies, log *slog.Logger) (cleanup.Filter, error) {
	if len(cfg.Milters) == 0 {
		return nil, nil
	}
	f, err := milter.New(cfg.MilterConfigs(), cfg.Hostname, role(log, "cleanup"))
	if err != nil {
		return nil, err
	}
	f.MaxSize = cfg.SMTPD.MessageSizeLimit
	if pol.engine != nil {
		f.Judge = pol.engine // the Lua "milter" event
	}
	return f, nil
}
