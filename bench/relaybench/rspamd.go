package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// rspamd is Debian's rspamd as a milter at DATA for the rspamd runs
// (postfix-rspamd, moonpost-rspamd): its proxy worker on a loopback
// port, scanning by itself, with the minimal configuration of the tests
// (core/milter's startRspamd): no network look-ups, no Redis, every
// module that would ask the network off. Each run starts its own, with
// its own state, so neither MTA inherits the other's warm caches.
type rspamd struct{ helper }

// rspamdWantHeader is the header rspamd's milter_headers adds to every
// message it scanned; the sink counts the messages without it.
const rspamdWantHeader = "X-Spam-Status"

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

// rspamdReady is what the proxy worker logs once its regular
// expressions are compiled (hyperscan); scans before that are slower.
const rspamdReady = "rspamd_worker_hyperscan_ready"

// startRspamd starts rspamd with its files in dir/rspamd and waits until
// it scans at full speed: its start compiles rules for 20 s to a minute.
func startRspamd(dir string) (*rspamd, error) {
	bin, err := exec.LookPath("rspamd")
	if err != nil {
		return nil, fmt.Errorf("rspamd not found: install Debian's rspamd package (.ci/install-deps does)")
	}
	home := filepath.Join(dir, "rspamd")
	if err := os.MkdirAll(filepath.Join(home, "local.d"), 0o755); err != nil {
		return nil, err
	}
	r := &rspamd{helper{addr: freeAddr(), wait: 4 * time.Minute}}
	files := map[string]string{"rspamd.conf": fmt.Sprintf(rspamdConf, r.addr), "local.d/milter_headers.conf": rspamdHeaders}
	for _, m := range rspamdOff {
		files["local.d/"+m+".conf"] = "enabled = false;\n"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	// -i: rspamd refuses to run as root without it (relaybench is root).
	args := []string{"-f", "-i", "-c", filepath.Join(home, "rspamd.conf")}
	for _, v := range []string{"LOCAL_CONFDIR", "DBDIR", "RUNDIR", "LOGDIR"} {
		args = append(args, "--var", v+"="+home)
	}
	r.cmd = exec.Command(bin, args...)
	if err := r.run("rspamd"); err != nil {
		return nil, err
	}
	return r, r.awaitReady(filepath.Join(home, "rspamd.log"), 2*time.Minute)
}

// awaitReady waits for the proxy worker's hyperscan notice in the log.
// A build without hyperscan never logs it: after limit the run goes on
// with a warning rather than failing.
func (r *rspamd) awaitReady(log string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			r.stop()
			b, _ := os.ReadFile(log)
			return fmt.Errorf("rspamd exited during its start:\n%s", tail(string(b), 20))
		default:
		}
		if b, _ := os.ReadFile(log); strings.Contains(string(b), rspamdReady) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	logf("rspamd: no %q in its log after %v; running anyway", rspamdReady, limit)
	return nil
}

// milterTOML is moonpost's [[milter]] table for rspamd: the defaults
// Postfix also runs with (milter_default_action = tempfail, 30 s
// connect and command timeouts, 300 s for the content).
func (r *rspamd) milterTOML() string {
	return fmt.Sprintf("\n[[milter]]\nname = \"rspamd\"\naddress = \"inet:%s\"\ndefault_action = \"tempfail\"\n", r.addr)
}
