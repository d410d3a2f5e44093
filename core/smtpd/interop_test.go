package smtpd

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// These tests run real third-party clients against the server, to catch
// what a hand-written dialogue would not (pipelining as clients really do
// it, their reading of multi-line replies).

func TestInteropSwaks(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("SKIP: swaks not installed; run .ci/install-deps — interop with a real client is NOT tested")
	}
	ts := startServer(t, nil)
	host, port, _ := net.SplitHostPort(ts.smtp)
	for _, extra := range [][]string{nil, {"--pipeline"}} {
		args := append([]string{"--server", host, "--port", port, "--from", "a@remote.example",
			"--to", "u@local.example", "--helo", "swaks.example", "--header", "Subject: swaks"}, extra...)
		out := run(t, swaks, args...)
		if !strings.Contains(out, "250 2.0.0 Ok: queued as ") {
			t.Errorf("swaks %v:\n%s", extra, out)
		}
	}
	envs, content := ts.sub.calls()
	if len(envs) != 2 || !strings.Contains(content[1], "Subject: swaks") {
		t.Errorf("got %d messages: %q", len(envs), content)
	}
}

func TestInteropPythonSmtplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("SKIP: python3 not installed — smtplib interop is NOT tested")
	}
	ts := startServer(t, nil)
	host, port, _ := net.SplitHostPort(ts.smtp)
	script := `
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname="py.example", timeout=10)
s.ehlo()
assert s.has_extn("pipelining") and s.has_extn("dsn") and s.has_extn("smtputf8"), s.esmtp_features
refused = s.sendmail("a@remote.example", ["u@local.example", "v@local.example"],
    "Subject: py\r\n\r\nline\r\n.leading dot\r\n", mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=FAILURE"])
assert refused == {}, refused
try:
    s.sendmail("a@remote.example", ["u@remote.example"], "Subject: relay\r\n\r\nx\r\n")
    sys.exit("relay accepted")
except smtplib.SMTPRecipientsRefused as e:
    code, msg = e.recipients["u@remote.example"]
    assert code == 554 and b"5.7.1" in msg, (code, msg)
s.quit()
print("OK")
`
	out := run(t, py, "-c", script, host, port)
	if !strings.Contains(out, "OK") {
		t.Fatalf("python smtplib:\n%s", out)
	}
	envs, content := ts.sub.calls()
	if len(envs) != 1 || len(envs[0].Recipients) != 2 || envs[0].Recipients[1].Notify != "FAILURE" {
		t.Fatalf("envelopes %+v", envs)
	}
	if !strings.Contains(content[0], "\r\n.leading dot\r\n") || envs[0].BodyType != "8BITMIME" {
		t.Errorf("content %q", content[0])
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return string(out)
}
