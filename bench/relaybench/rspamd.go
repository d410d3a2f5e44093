package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/testserver"
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
	r := &rspamd{helper{addr: freeAddr(), wait: 4 * time.Minute}}
	args, err := testserver.WriteRspamd(home, r.addr)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, args...)
	if err := r.run("rspamd"); err != nil {
		return nil, err
	}
	return r, r.awaitReady(filepath.Join(home, testserver.RspamdLog), 2*time.Minute)
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
