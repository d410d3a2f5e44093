package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Scenario 21: with log_format = "syslog" the log reads like Postfix's
// maillog, and pflogsumm (the Postfix log summariser) counts what
// happened: messages received over SMTP and by pickup, deliveries and a
// rejection.
func TestT21PflogsummCountsTheLog(t *testing.T) {
	pflogsumm, err := exec.LookPath("pflogsumm")
	if err != nil {
		t.Skip("SKIP: pflogsumm not installed (Debian package pflogsumm; .ci/install-deps installs it)")
	}
	d := newDaemon(t, "log_format = \"syslog\"\nmynetworks = [\"192.0.2.0/24\"]") // loopback may not relay
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	for _, to := range []string{"bob@local.test", "carol@local.test"} {
		if code, text := c.message("alice@example.org", []string{to}, "Subject: t21\r\n\r\nhello"); code != 250 {
			t.Fatalf("DATA %d %s", code, text)
		}
	}
	c.expect("MAIL FROM:<alice@example.org>", 250)
	c.expect("RCPT TO:<victim@elsewhere.example>", 554)
	c.expect("RSET", 250)
	c.expect("QUIT", 221)
	if code, out := d.run("Subject: t21 local\n\nhi\n", "sendmail", "-f", "root", "dave@local.test"); code != 0 {
		t.Fatalf("sendmail %d %s", code, out)
	}
	d.waitLog(": removed", 3)
	logs := d.logs()
	file := filepath.Join(t.TempDir(), "maillog")
	var lines []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, " moonpost") {
			lines = append(lines, l)
		}
	}
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out, err := exec.Command(pflogsumm, "--syslog-name=moonpost", file).CombinedOutput()
	if err != nil {
		t.Fatalf("pflogsumm: %v\n%s", err, out)
	}
	for what, want := range map[string]int{"received": 3, "delivered": 3, "rejected": 1, "bounced": 0, "deferred": 0} {
		if got := grandTotal(t, string(out), what); got != want {
			t.Errorf("pflogsumm %s = %d, want %d\n%s\nlog:\n%s", what, got, want, out, strings.Join(lines, "\n"))
		}
	}
}

// grandTotal reads "      3   received" from pflogsumm's Grand Totals.
func grandTotal(t *testing.T, report, what string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+(\d+)\s+` + what + `\b`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no %q in pflogsumm's report:\n%s", what, report)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
