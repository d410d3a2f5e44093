package config

import (
	"os"
	"strings"
)

// Config is the whole daemon configuration. Each field's comment gives its
// TOML key and default; docs/configuration.md lists them all.
type Config struct {
	// spool_dir: the queue directories live here. Default "spool" under
	// the working directory; made absolute at load.
	SpoolDir string `toml:"spool_dir"`
	// myhostname: our name in the banner, Received: and bounces.
	// Default: the system host name.
	Hostname string `toml:"myhostname"`
	// myorigin: domain appended to bare user names. Default: myhostname.
	Origin string `toml:"myorigin"`
	// mydestination: domains delivered locally. Default: myhostname,
	// localhost.
	Destinations []string `toml:"mydestination"`
	// relay_domains: domains we accept mail for from anyone and relay.
	RelayDomains []string `toml:"relay_domains"`
	// mynetworks: clients allowed to relay. Default: loopback only.
	MyNetworks []string `toml:"mynetworks"`
	// relayhost: send all non-local mail here ("[host]:port"), "" for MX.
	RelayHost string `toml:"relayhost"`
	// postmaster: where double bounces go. Default: postmaster@myorigin.
	Postmaster string `toml:"postmaster"`
	// log_level: debug, info, warn, error. Default info.
	LogLevel string `toml:"log_level"`
	// log_format: text, json, or syslog (Postfix's maillog lines, for
	// pflogsumm and the like). Default text.
	LogFormat string `toml:"log_format"`

	SMTPD  SMTPD  `toml:"smtpd"`
	Queue  Queue  `toml:"queue"`
	Local  Local  `toml:"local"`
	SMTP   SMTP   `toml:"smtp"`
	DNS    DNS    `toml:"dns"`
	Hooks  Hooks  `toml:"hooks"`
	Pickup Pickup `toml:"pickup"`
	// pipe.NAME: operator-defined pipe transports, like master.cf pipe
	// services; a route to transport NAME runs that command.
	Pipes map[string]Pipe `toml:"pipe"`
	// bounce: bounce classification rules, see bounce.go.
	Bounce Bounce `toml:"bounce"`

	// Shared policy state (shared.go): the Redis server throttles and
	// scripts use, how throttles fail, and named SQL databases.
	Redis    Redis    `toml:"redis"`
	Throttle Throttle `toml:"throttle"`
	SQL      []SQL    `toml:"sql"`
	DKIM     DKIM     `toml:"dkim"` // signing keys, see auth.go
	Auth     Auth     `toml:"auth"` // inbound SPF, DKIM, DMARC
	HTTP     HTTP     `toml:"http"`
	// local_recipient_maps: who counts as a known local recipient, so
	// smtpd can refuse the others at RCPT with 550 5.1.1 (Postfix's
	// local_recipient_maps). Each entry is "passwd" (the system's
	// accounts), "aliases" (local.aliases) or a lookup-table file of
	// "user value" / "user@domain value" lines. postmaster and the
	// aliases file always count. Default ["passwd", "aliases"]; [] turns
	// the check off (any local part is accepted).
	LocalRecipientMaps []string `toml:"local_recipient_maps"`
	// setgid_group: the group a setgid sendmail runs as (Postfix's
	// setgid_group, "postdrop"); the daemon then makes the maildrop mode
	// 1730 in that group. Default "": the maildrop is 1733 and every
	// local user's sendmail may write it without any privilege.
	SetgidGroup string `toml:"setgid_group"`
	// webhook: sinks of delivery events, see webhook.go.
	Webhooks []Webhook `toml:"webhook"`
	// milter: the content filters, one [[milter]] table each, called in
	// file order (core/config/milter.go).
	Milters []Milter `toml:"milter"`
	// egress: outbound shaping rules on replies, see egress.go.
	Egress Egress `toml:"egress"`
	// tlsrpt: SMTP TLS reporting (RFC 8460), see tlsrpt.go.
	TLSRPT TLSRPT `toml:"tlsrpt"`
}

// HTTP configures the HTTP listener: /metrics and the JSON API.
type HTTP struct {
	// listen: host:port addresses; none (the default) means no listener.
	Listen []string `toml:"listen"`
	// token_file: the bearer token for /api/ (first line, at least 16
	// characters). Without it every /api/ request is refused; /metrics
	// needs no token.
	TokenFile string `toml:"token_file"`
}

// Pipe is one pipe(8)-style transport.
type Pipe struct {
	Argv           []string `toml:"argv"`            // command with ${sender}, ${recipient}, ...
	Timeout        Duration `toml:"timeout"`         // default 1000s
	SizeLimit      int64    `toml:"size_limit"`      // 0: none
	RecipientLimit int      `toml:"recipient_limit"` // default 1
	CRLF           bool     `toml:"crlf"`            // keep CRLF on stdin
	User           string   `toml:"user"`            // run as (daemon must be root)
}

// SMTPD configures the SMTP server.
type SMTPD struct {
	Listen           []string `toml:"listen"`            // default ["127.0.0.1:2525"]
	SubmissionListen []string `toml:"submission_listen"` // default none; AUTH after STARTTLS
	TLSCert          string   `toml:"tls_cert"`          // PEM file; enables STARTTLS
	TLSKey           string   `toml:"tls_key"`
	PasswordFile     string   `toml:"password_file"`          // SASL users for submission
	MessageSizeLimit int64    `toml:"message_size_limit"`     // default 10240000
	RecipientLimit   int      `toml:"recipient_limit"`        // default 1000
	LineLengthLimit  int      `toml:"line_length_limit"`      // default 2048
	HeaderSizeLimit  int      `toml:"header_size_limit"`      // default 102400
	MaxConnections   int      `toml:"max_connections"`        // default 100
	MaxPerClient     int      `toml:"max_connections_per_ip"` // default 50
	IdleTimeout      Duration `toml:"idle_timeout"`           // default 300s
	SessionTimeout   Duration `toml:"session_timeout"`        // default 30m
	Banner           string   `toml:"banner"`                 // [smtpd_banner] after the host name; default "ESMTP Service Ready"

	// Clients that make errors, and a full spool (Postfix names).
	ErrorSleepTime   Duration `toml:"error_sleep_time"`   // [smtpd_error_sleep_time] 1s, "0": no pause
	SoftErrorLimit   int      `toml:"soft_error_limit"`   // [smtpd_soft_error_limit] 10
	HardErrorLimit   int      `toml:"hard_error_limit"`   // [smtpd_hard_error_limit] 20
	AuthFailureLimit int      `toml:"auth_failure_limit"` // failed AUTH per session, 3
	QueueMinFree     int64    `toml:"queue_minfree"`      // [queue_minfree] bytes; 0: 1.5 × message_size_limit, -1: SIZE checks only
	// Defences under stress, after Postfix's stress mode and anvil(8)
	// (docs/smtpd.md "Under stress"); checked in stress.go.
	StressIdleTimeout    Duration `toml:"stress_idle_timeout"`            // idle_timeout under stress, default 10s
	StressSessionTimeout Duration `toml:"stress_session_timeout"`         // session_timeout under stress, default 120s
	ConnRateLimit        int      `toml:"client_connection_rate_limit"`   // per client per anvil_rate_time_unit; 0 = off (default)
	AuthFailRateLimit    int      `toml:"client_auth_failure_rate_limit"` // failed AUTH per client per unit; default 10, 0 = off
	RateTimeUnit         Duration `toml:"anvil_rate_time_unit"`           // default 60s
	// client_event_limit_exceptions: clients spared by the per-client
	// limits; unset: mynetworks, [] nobody.
	LimitExceptions []string `toml:"client_event_limit_exceptions"`
	// RateLimits are the [[smtpd.rate_limit]] blocks: messages or
	// recipients per client, sender or user, counted in the shared
	// throttle (ratelimit.go).
	RateLimits []RateLimit `toml:"rate_limit"`
}

// Queue configures scheduling and retries (Postfix names in brackets).
type Queue struct {
	MinBackoff      Duration `toml:"min_backoff"`                 // [minimal_backoff_time] 300s
	MaxBackoff      Duration `toml:"max_backoff"`                 // [maximal_backoff_time] 4000s
	MaxLifetime     Duration `toml:"max_lifetime"`                // [maximal_queue_lifetime] 5d
	BounceLifetime  Duration `toml:"bounce_lifetime"`             // [bounce_queue_lifetime] 5d
	DelayWarning    Duration `toml:"delay_warning"`               // [delay_warning_time] 0 = off
	ScanInterval    Duration `toml:"scan_interval"`               // [queue_run_delay] 300s
	ActiveLimit     int      `toml:"active_limit"`                // [qmgr_message_active_limit] 20000
	Concurrency     int      `toml:"destination_concurrency"`     // [default_destination_concurrency_limit] 20
	InitConcurrency int      `toml:"initial_concurrency"`         // [initial_destination_concurrency] 5
	RcptLimit       int      `toml:"destination_recipient_limit"` // [..._recipient_limit] 50
	DeliveryTimeout Duration `toml:"delivery_timeout"`            // bound on one delivery attempt, 10m
	MaxDeliveries   int      `toml:"max_deliveries"`              // [default_process_limit] 100
	InFlowDelay     Duration `toml:"in_flow_delay"`               // [in_flow_delay] 1s, 0 = off
	// Sync is how queue writes reach the disk: "fsync" (each file and
	// directory), "syncfs" (one shared syncfs of the spool's file
	// system per group of concurrent commits), or "auto" (the default:
	// syncfs when the spool directory is a file system of its own,
	// queue.OwnFileSystem, else fsync).
	Sync string `toml:"sync"`
}

// Local configures local(8)-style delivery.
type Local struct {
	// mailbox: path pattern with {user}, {local}, {domain}; a trailing
	// slash means Maildir, else mbox. Default: SPOOL/mail/{user}/.
	Mailbox            string   `toml:"mailbox"`
	Aliases            string   `toml:"aliases"`             // aliases(5) file, default none
	RecipientDelimiter string   `toml:"recipient_delimiter"` // default "+"
	AllowFileDirs      []string `toml:"allow_file_dirs"`     // where /file aliases may write
	// include_dirs: where :include: alias files may be read from; empty
	// (the default) refuses :include:.
	IncludeDirs []string `toml:"include_dirs"`
	// mailbox_dirs: where a route's "mailbox" option may point (virtual
	// mailboxes of hosted domains). Relative to the working directory.
	MailboxDirs    []string `toml:"mailbox_dirs"`
	AllowCommands  bool     `toml:"allow_commands"`  // |command aliases; default true
	CommandTimeout Duration `toml:"command_timeout"` // default 1000s
}

// SMTP configures the outbound SMTP client.
type SMTP struct {
	HeloName string `toml:"helo_name"` // default myhostname
	// tls_security_level: Postfix's smtp_tls_security_level, the default
	// TLS level (none, may, encrypt, verify, secure, dane, dane-only;
	// default may); tls is its older spelling. See smtptls.go.
	TLSSecurityLevel string   `toml:"tls_security_level"`
	TLS              string   `toml:"tls"`
	DNSSupportLevel  string   `toml:"dns_support_level"` // enabled (default) or dnssec
	TLSCAFile        string   `toml:"tls_ca_file"`       // roots for verify/secure; default: the system's
	Sources          []Source `toml:"source"`            // [[smtp.source]]
	Pools            []Pool   `toml:"pool"`              // [[smtp.pool]]
	// connection_reuse_count_limit: deliveries per connection before it
	// is closed (Postfix smtp_connection_reuse_count_limit); 0 no limit.
	ReuseCountLimit int      `toml:"connection_reuse_count_limit"`
	ConnectTimeout  Duration `toml:"connect_timeout"` // default 30s
	CommandTimeout  Duration `toml:"command_timeout"` // MAIL, RCPT, DATA replies; default 300s
	// helo_timeout: the greeting, EHLO and STARTTLS replies (Postfix
	// smtp_helo_timeout); default 300s. Without it a server that accepts
	// the connection and never greets holds a delivery slot that long.
	HeloTimeout Duration `toml:"helo_timeout"`
	// data_timeout: sending the content and the reply to the final dot
	// (smtp_data_done_timeout); default 600s.
	DataTimeout Duration `toml:"data_timeout"`
	Port        int      `toml:"port"` // default 25
	// line_length_limit: longer content lines are broken with CRLF
	// SPACE (Postfix smtp_line_length_limit); default 998, 0 disables.
	LineLengthLimit int `toml:"line_length_limit"`
	// mx_session_limit: sessions per delivery that reach a transaction;
	// a 4xx moves the deferred recipients on to the next MX host while
	// this allows (Postfix smtp_mx_session_limit); default 2, 0 no limit.
	MXSessionLimit int `toml:"mx_session_limit"`
	// mx_address_limit: addresses tried per delivery over all MX hosts
	// (Postfix smtp_mx_address_limit); default 5, 0 no limit.
	MXAddressLimit int `toml:"mx_address_limit"`
	// lmtp_tls: the lmtp agent's STARTTLS policy (Postfix
	// lmtp_tls_security_level): none (default), may, encrypt.
	LMTPTLS string `toml:"lmtp_tls"`
	// mta_sts: apply recipient domains' MTA-STS policies (RFC 8461);
	// default true (tlsrpt.go).
	MTASTS *bool `toml:"mta_sts"`
}

// DNS configures the resolver.
type DNS struct {
	Servers []string `toml:"servers"` // default: from /etc/resolv.conf
	Timeout Duration `toml:"timeout"` // default 5s
}

// Hooks configures the Lua policy scripts.
type Hooks struct {
	Dir         string   `toml:"dir"`          // scripts folder; default: the shipped scripts/
	TablesDir   []string `toml:"tables_dirs"`  // where lookup tables may be read
	CallTimeout Duration `toml:"call_timeout"` // per hook call, default 1s

	// Bounds for hostile or broken scripts; zero takes the engine's
	// defaults (see hooks.Config).
	MemoryLimit      int64    `toml:"memory_limit"`       // heap growth per call, bytes (512 MiB)
	MaxString        int      `toml:"max_string"`         // longest string a script builds (16 MiB)
	KVMaxKeys        int      `toml:"kv_max_keys"`        // kv store keys (100000)
	KVMaxBytes       int      `toml:"kv_max_bytes"`       // kv store bytes (64 MiB)
	BreakerThreshold int      `toml:"breaker_threshold"`  // failures in a row that open it (5; -1 off)
	BreakerCooldown  Duration `toml:"breaker_cooldown"`   // open until a probe (30s)
	BreakerFallback  string   `toml:"breaker_fallback"`   // "tempfail" or "skip"
	ErrorLogInterval Duration `toml:"error_log_interval"` // one failure line per event per interval (10s)
}

// Pickup configures the maildrop reader.
type Pickup struct {
	ScanInterval Duration `toml:"scan_interval"` // default 60s
	MaxSize      int64    `toml:"max_size"`      // default: smtpd.message_size_limit
}

// Default returns the embedded configuration.
func Default() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return &Config{
		SpoolDir: "spool", Hostname: host, LogLevel: "info", LogFormat: "text",
		MyNetworks: []string{"127.0.0.0/8", "::1/128"},
		SMTPD: SMTPD{
			Listen: []string{"127.0.0.1:2525"}, MessageSizeLimit: 10240000,
			RecipientLimit: 1000, LineLengthLimit: 2048, HeaderSizeLimit: 102400,
			MaxConnections: 100, MaxPerClient: 50,
			IdleTimeout: Duration(300e9), SessionTimeout: Duration(1800e9),
			ErrorSleepTime: Duration(1e9), SoftErrorLimit: 10, HardErrorLimit: 20, AuthFailureLimit: 3,
			StressIdleTimeout: Duration(10e9), StressSessionTimeout: Duration(120e9), AuthFailRateLimit: 10, RateTimeUnit: Duration(60e9),
		},
		Queue: Queue{
			MinBackoff: Duration(300e9), MaxBackoff: Duration(4000e9),
			MaxLifetime: Duration(5 * 86400e9), BounceLifetime: Duration(5 * 86400e9),
			ScanInterval: Duration(300e9), ActiveLimit: 20000, Concurrency: 20,
			InitConcurrency: 5, RcptLimit: 50, DeliveryTimeout: Duration(600e9), MaxDeliveries: 100, InFlowDelay: Duration(1e9), Sync: "auto",
		},
		Local: Local{RecipientDelimiter: "+", AllowCommands: true, CommandTimeout: Duration(1000e9)},
		SMTP: SMTP{ConnectTimeout: Duration(30e9), CommandTimeout: Duration(300e9),
			HeloTimeout: Duration(300e9), DataTimeout: Duration(600e9), Port: 25,
			LineLengthLimit: 998, MXSessionLimit: 2, MXAddressLimit: 5, LMTPTLS: "none"},
		Bounce: Bounce{ClassifierDefaults: true},
		DNS:    DNS{Timeout: Duration(5e9)},
		Hooks:  Hooks{CallTimeout: Duration(1e9)},
		Pickup: Pickup{ScanInterval: Duration(60e9)},
		Auth:   Auth{Verify: true, MaxSignatures: 5, MaxLookups: 20, Timeout: Duration(15e9)},
	}
}
