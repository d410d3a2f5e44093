package app

import (
	"log/slog"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/milter"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/smtpd"
)

// buildMilters returns the [[milter]] tables as one milter.Filter, or nil
// when there are none: cleanup's content filter, and smtpd's live
// conversation with the milters (smtpdMilters). The Lua "milter"
// handlers judge each milter's answer.
func buildMilters(cfg *config.Config, pol *policies, log *slog.Logger) (*milter.Filter, error) {
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

// smtpdMilters gives smtpd the milter conversation of each connection.
type smtpdMilters struct{ f *milter.Filter }

func (m smtpdMilters) Open(client queue.Client, port uint16) smtpd.MilterConn {
	if c := m.f.Open(client, port); c != nil {
		return c
	}
	return nil // not a typed nil
}

// milterConfig is smtpd's view of the milters: nil without any.
func milterConfig(f *milter.Filter) smtpd.Milters {
	if f == nil {
		return nil
	}
	return smtpdMilters{f}
}
