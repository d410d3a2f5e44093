package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path over the defaults. An empty path gives the
// embedded default. Relative paths in the file are relative to the
// working directory, as on the command line.
func Load(path string) (*Config, error) { return LoadWith(path, nil) }

// LoadWith is Load with command-line overrides applied after the file
// and before defaults are derived and validated.
func LoadWith(path string, override func(*Config)) (*Config, error) {
	c := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, c)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("config %s: unknown key %s", path, strings.Join(keys, ", "))
		}
	}
	if override != nil {
		override(c)
	}
	if err := c.finish(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// finish derives the defaults that depend on other keys, then validates.
func (c *Config) finish() error {
	c.Hostname = strings.ToLower(strings.TrimSuffix(c.Hostname, "."))
	if c.Origin == "" {
		c.Origin = c.Hostname
	}
	if c.Destinations == nil {
		c.Destinations = []string{c.Hostname, "localhost"}
	}
	if c.Postmaster == "" {
		c.Postmaster = "postmaster@" + c.Origin
	}
	if c.SMTP.HeloName == "" {
		c.SMTP.HeloName = c.Hostname
	}
	if c.Pickup.MaxSize == 0 {
		c.Pickup.MaxSize = c.SMTPD.MessageSizeLimit
	}
	abs, err := filepath.Abs(c.SpoolDir)
	if err != nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	c.SpoolDir = abs
	if c.Local.Mailbox == "" {
		c.Local.Mailbox = filepath.Join(c.SpoolDir, "mail", "{user}") + "/"
	}
	// Made absolute now: the local agent confines paths with them, and
	// a relative root would follow the daemon's working directory.
	for i, d := range c.Local.MailboxDirs {
		if d == "" {
			return fmt.Errorf("local.mailbox_dirs[%d]: empty path", i)
		}
		if c.Local.MailboxDirs[i], err = filepath.Abs(d); err != nil {
			return fmt.Errorf("local.mailbox_dirs[%d]: %w", i, err)
		}
	}
	c.Destinations = lowerAll(c.Destinations)
	c.RelayDomains = lowerAll(c.RelayDomains)
	c.finishShared()
	c.finishSMTPTLS()
	c.finishAuth()
	c.finishTLSRPT()
	if err := c.finishLocalAccess(); err != nil {
		return err
	}
	return c.validate()
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	}
	return out
}

// problems collects validation errors, each naming its key.
type problems []error

func (p *problems) bad(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
}

func (c *Config) validate() error {
	var p problems
	c.validateTop(&p)
	c.validateSMTPD(&p)
	c.validateStress(&p)
	c.validateRateLimits(&p)
	c.validateQueue(&p)
	c.validateFiles(&p)
	c.validateBounce(&p)
	c.validateShared(&p)
	c.validateAuth(&p)
	c.validateHTTP(&p)
	c.validateWebhooks(&p)
	c.validateMilters(&p)
	c.validateEgress(&p)
	c.validateTLSRPT(&p)
	return errors.Join(p...)
}

func (c *Config) validateTop(p *problems) {
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \t/@") {
		p.bad("myhostname", "%q is not a host name", c.Hostname)
	}
	for i, n := range c.MyNetworks {
		if _, err := ParsePrefix(n); err != nil {
			p.bad(fmt.Sprintf("mynetworks[%d]", i), "%v", err)
		}
	}
	c.validateSMTPTLS(p)
	oneOf(p, "log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf(p, "log_format", c.LogFormat, "text", "json", "syslog")
	if c.RelayHost != "" && !strings.HasPrefix(c.RelayHost, "[") && strings.Contains(c.RelayHost, "/") {
		p.bad("relayhost", "%q is not a next hop", c.RelayHost)
	}
	if c.SMTP.Port <= 0 || c.SMTP.Port > 65535 {
		p.bad("smtp.port", "%d out of range", c.SMTP.Port)
	}
	if c.SMTP.LineLengthLimit != 0 && c.SMTP.LineLengthLimit < 80 {
		p.bad("smtp.line_length_limit", "%d: want 0 (off) or at least 80", c.SMTP.LineLengthLimit)
	}
	if c.SMTP.MXSessionLimit < 0 || c.SMTP.MXAddressLimit < 0 {
		p.bad("smtp.mx_session_limit", "mx_session_limit and mx_address_limit must not be negative")
	}
	if !strings.Contains(c.Local.Mailbox, "{user}") && !strings.Contains(c.Local.Mailbox, "{local}") {
		p.bad("local.mailbox", "%q must contain {user} or {local}", c.Local.Mailbox)
	}
}

func oneOf(p *problems, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.bad(key, "%q: use %s", v, strings.Join(allowed, ", "))
}

func (c *Config) validateHTTP(p *problems) {
	checkAddrs(p.bad, "http.listen", c.HTTP.Listen)
	if c.HTTP.TokenFile != "" && len(c.HTTP.Listen) == 0 {
		p.bad("http.token_file", "set, but http.listen is empty")
	}
}

func (c *Config) validateSMTPD(p *problems) {
	checkAddrs(p.bad, "smtpd.listen", c.SMTPD.Listen)
	checkAddrs(p.bad, "smtpd.submission_listen", c.SMTPD.SubmissionListen)
	if len(c.SMTPD.Listen)+len(c.SMTPD.SubmissionListen) == 0 {
		p.bad("smtpd.listen", "no listener configured")
	}
	if (c.SMTPD.TLSCert == "") != (c.SMTPD.TLSKey == "") {
		p.bad("smtpd.tls_cert", "tls_cert and tls_key go together")
	}
	positive(p, map[string]int64{
		"smtpd.message_size_limit": c.SMTPD.MessageSizeLimit, "smtpd.recipient_limit": int64(c.SMTPD.RecipientLimit),
		"smtpd.line_length_limit": int64(c.SMTPD.LineLengthLimit), "smtpd.header_size_limit": int64(c.SMTPD.HeaderSizeLimit),
		"smtpd.max_connections": int64(c.SMTPD.MaxConnections), "smtpd.max_connections_per_ip": int64(c.SMTPD.MaxPerClient),
	})
	if c.SMTPD.LineLengthLimit > 0 && c.SMTPD.LineLengthLimit < 512 {
		p.bad("smtpd.line_length_limit", "must be at least 512 (RFC 5321)")
	}
	positive(p, map[string]int64{
		"smtpd.soft_error_limit": int64(c.SMTPD.SoftErrorLimit), "smtpd.hard_error_limit": int64(c.SMTPD.HardErrorLimit),
		"smtpd.auth_failure_limit": int64(c.SMTPD.AuthFailureLimit),
	})
	if c.SMTPD.ErrorSleepTime < 0 {
		p.bad("smtpd.error_sleep_time", "must not be negative")
	}
}

func (c *Config) validateQueue(p *problems) {
	positive(p, map[string]int64{
		"queue.active_limit": int64(c.Queue.ActiveLimit), "queue.destination_concurrency": int64(c.Queue.Concurrency),
		"queue.initial_concurrency": int64(c.Queue.InitConcurrency), "queue.destination_recipient_limit": int64(c.Queue.RcptLimit),
		"queue.max_deliveries": int64(c.Queue.MaxDeliveries),
	})
	if c.Queue.MinBackoff <= 0 || c.Queue.MaxBackoff < c.Queue.MinBackoff {
		p.bad("queue.max_backoff", "need 0 < min_backoff <= max_backoff")
	}
	oneOf(p, "queue.sync", c.Queue.Sync, "auto", "fsync", "syncfs")
	if c.Queue.InFlowDelay < 0 || c.Queue.InFlowDelay.D() > 10*time.Second {
		p.bad("queue.in_flow_delay", "must be between 0 (off) and 10s")
	}
	if c.Queue.InitConcurrency > c.Queue.Concurrency {
		p.bad("queue.initial_concurrency", "exceeds destination_concurrency")
	}
}

// positive checks counts that must be above zero, in key order so the
// error list is stable.
func positive(p *problems, vals map[string]int64) {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if vals[k] <= 0 {
			p.bad(k, "must be positive, got %d", vals[k])
		}
	}
}

func (c *Config) validateFiles(p *problems) {
	for name, pipe := range c.Pipes {
		if len(pipe.Argv) == 0 || !filepath.IsAbs(pipe.Argv[0]) {
			p.bad("pipe."+name+".argv", "needs an absolute program path")
		}
		if reserved[name] {
			p.bad("pipe."+name, "%q is a built-in transport name", name)
		}
	}
	for _, f := range []struct{ key, path string }{
		{"smtpd.tls_cert", c.SMTPD.TLSCert}, {"smtpd.tls_key", c.SMTPD.TLSKey},
		{"smtpd.password_file", c.SMTPD.PasswordFile}, {"local.aliases", c.Local.Aliases},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			p.bad(f.key, "%v", err)
		}
	}
}

// reserved are the built-in transport names.
var reserved = map[string]bool{"smtp": true, "lmtp": true, "local": true, "pipe": true,
	"discard": true, "error": true, "relay": true}

func checkAddrs(bad func(string, string, ...any), key string, addrs []string) {
	for i, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(fmt.Sprintf("%s[%d]", key, i), "%q: %v", a, err)
		}
	}
}

// ParsePrefix reads a mynetworks entry: a CIDR prefix or a bare address.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Networks returns mynetworks parsed (validated at load).
func (c *Config) Networks() []netip.Prefix {
	var out []netip.Prefix
	for _, n := range c.MyNetworks {
		if p, err := ParsePrefix(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// IsLocal reports whether domain is in mydestination.
func (c *Config) IsLocal(domain string) bool { return contains(c.Destinations, domain) }

// IsRelay reports whether domain is in relay_domains.
func (c *Config) IsRelay(domain string) bool { return contains(c.RelayDomains, domain) }

func contains(list []string, domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, d := range list {
		if d == domain {
			return true
		}
	}
	return false
}
