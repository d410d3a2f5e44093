package app

import (
	"fmt"
	"log/slog"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/queue"
)

// maildropAccess sets, at each start, who may submit local mail: every
// user (no setgid_group), or only a sendmail installed setgid to
// setgid_group, as Postfix's postdrop. See docs/sendmail.md.
func maildropAccess(store *queue.Store, cfg *config.Config, log *slog.Logger) error {
	gid, err := cfg.SetgidGID()
	if err != nil {
		return err
	}
	if err := store.SetMaildropAccess(gid); err != nil {
		if gid < 0 {
			// Only restoring the default mode failed (a spool that is
			// not ours to chmod): submissions may fail, mail still flows.
			log.Warn("maildrop: cannot set mode 1733", "err", err)
			return nil
		}
		return fmt.Errorf("setgid_group %q: %w", cfg.SetgidGroup, err)
	}
	if gid >= 0 {
		log.Info("maildrop", "mode", "1730", "group", cfg.SetgidGroup)
	} else {
		log.Info("maildrop", "mode", "1733", "group", "none (any local user may submit)")
	}
	return nil
}
