package app

import (
	"fmt"

	"github.com/moonpost/moonpost/core/config"
)

// liveSMTPD are the [smtpd] keys a reload applies: the sessions that
// start after it take them, sessions in progress finish under the old
// ones (smtpd.Server.Reconfigure); listeners added are bound, listeners
// removed stop accepting. The others need a restart: the password file's
// path, the limits that cleanup, pickup and the HTTP API share
// (message_size_limit, recipient_limit, header_size_limit), and the
// client rate window (anvil_rate_time_unit).
var liveSMTPD = map[string]bool{
	"banner": true, "tls_cert": true, "tls_key": true, "line_length_limit": true,
	"max_connections": true, "max_connections_per_ip": true,
	"idle_timeout": true, "session_timeout": true,
	"error_sleep_time": true, "soft_error_limit": true, "hard_error_limit": true, "auth_failure_limit": true,
	"queue_minfree": true, "stress_idle_timeout": true, "stress_session_timeout": true,
	"client_connection_rate_limit": true, "client_auth_failure_rate_limit": true,
	"client_event_limit_exceptions": true, "rate_limit": true,
	"listen": true, "submission_listen": true,
}

// liveSMTPDOf is cur with the live [smtpd] keys of cfg.
func liveSMTPDOf(cur, cfg config.SMTPD) config.SMTPD {
	next := cfg
	next.PasswordFile = cur.PasswordFile
	next.MessageSizeLimit, next.RecipientLimit, next.HeaderSizeLimit = cur.MessageSizeLimit, cur.RecipientLimit, cur.HeaderSizeLimit
	next.RateTimeUnit = cur.RateTimeUnit
	return next
}

// smtpdReload prepares the SMTP server's live [smtpd] settings from next
// and returns the function that applies them. TLS certificates are read
// again at every reload, so a renewed certificate under the same file
// names is taken too; one that does not load refuses the whole reload
// before anything changed.
func (r *reloader) smtpdReload(next *config.Config) (apply func() error, err error) {
	if r.svc.smtpd == nil {
		return func() error { return nil }, nil
	}
	c := r.svc.smtpd.Settings()
	if err := smtpdSettings(&c, next); err != nil {
		return nil, fmt.Errorf("configuration rejected, the running one stays: %w", err)
	}
	return func() error {
		if err := r.svc.smtpd.Reconfigure(c); err != nil {
			return fmt.Errorf("smtpd settings not applied: %w", err)
		}
		return nil
	}, nil
}
