package testserver

import (
	"fmt"
	"os"
	"path/filepath"
)

// rspamdConf is a minimal rspamd: the milter proxy scanning by itself on
// a loopback port, no DNS (a dead nameserver), no modules that look
// anything up or need Redis, state and logs in one directory.
const rspamdConf = `.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 1; }
    local_addrs = [];
    hs_cache_dir = "$DBDIR";
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }
worker "rspamd_proxy" {
    bind_socket = "%s";
    milter = yes;
    timeout = 120s;
    count = 1;
    upstream "local" { default = yes; self_scan = yes; }
}
`

// rspamdHeaders: the headers of a scanned message, for loopback clients
// too (skip_local = false).
const rspamdHeaders = `extended_spam_headers = true;
skip_local = false;
skip_authenticated = false;
use = ["x-spamd-result", "x-rspamd-queue-id", "x-rspamd-server", "x-spam-status"];
`

// rspamdOff are the modules that look things up (DNS, Redis, HTTP) or
// keep state across messages; all off.
var rspamdOff = []string{"rbl", "fuzzy_check", "asn", "emails", "dmarc", "spf", "dkim", "phishing", "neural",
	"reputation", "ratelimit", "greylist", "hfilter", "url_reputation", "url_redirector", "dcc",
	"external_services", "antivirus", "metadata_exporter", "clickhouse", "history_redis", "replies",
	"mx_check", "rspamd_update", "elastic", "maillist", "once_received", "arc", "dkim_signing"}

// RspamdLog is the log file, below the directory given to WriteRspamd.
const RspamdLog = "rspamd.log"

// WriteRspamd writes the configuration of a private rspamd into home,
// its milter proxy on listen, and returns the arguments to run Debian's
// rspamd with it in the foreground: configuration, state, pid and log
// all in home. The tests and the relay benchmark run the same rspamd.
func WriteRspamd(home, listen string) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(home, "local.d"), 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{"rspamd.conf": fmt.Sprintf(rspamdConf, listen), "local.d/milter_headers.conf": rspamdHeaders}
	for _, m := range rspamdOff {
		files["local.d/"+m+".conf"] = "enabled = false;\n"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	args := []string{"-f", "-c", filepath.Join(home, "rspamd.conf")}
	if os.Getuid() == 0 {
		args = append(args, "-i") // rspamd refuses to run as root without it
	}
	for _, v := range []string{"LOCAL_CONFDIR", "DBDIR", "RUNDIR", "LOGDIR"} {
		args = append(args, "--var", v+"="+home)
	}
	return args, nil
}
