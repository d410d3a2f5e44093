package smtpd

import (
	"context"
	"errors"
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

// Real clients over STARTTLS and AUTH, with TLS run by smtpd below
// go-smtp (tls.go).
func TestInteropStartTLSAuth(t *testing.T) {
	ts := authServer(t)
	host, port, _ := net.SplitHostPort(ts.subm)
	swaks, err := exec.LookPath("swaks")
	if err == nil {
		if sup, _ := exec.Command(swaks, "--support").CombinedOutput(); !strings.Contains(string(sup), "=== TLS supported") {
			err = errors.New("swaks has no TLS (Net::SSLeay)")
		}
	}
	if err != nil {
		t.Logf("SKIP part: %v; run .ci/install-deps — STARTTLS interop with swaks is NOT tested", err)
	} else {
		for _, mech := range []string{"PLAIN", "LOGIN"} {
			out := run(t, swaks, "--server", host, "--port", port, "--from", "alice@local.example",
				"--to", "u@remote.example", "--helo", "swaks.example", "--tls", "--auth", mech,
				"--auth-user", "alice", "--auth-password", "secret", "--pipeline")
			if !strings.Contains(out, "250 2.0.0 Ok: queued as ") || !strings.Contains(out, "235 ") {
				t.Errorf("swaks STARTTLS AUTH %s:\n%s", mech, out)
			}
		}
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("SKIP: python3 not installed — smtplib STARTTLS interop is NOT tested")
	}
	script := `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname="py.example", timeout=10)
s.ehlo(); assert s.has_extn("starttls") and not s.has_extn("auth"), s.esmtp_features
s.starttls(context=ctx); s.ehlo(); assert "PLAIN" in s.esmtp_features["auth"], s.esmtp_features
try:
    s.login("alice", "wrong"); sys.exit("wrong password accepted")
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 535, e
s.login("alice", "secret")
assert s.sendmail("alice@local.example", ["u@remote.example"], "Subject: py tls\r\n\r\nx\r\n") == {}
s.quit()
print("OK")
`
	if out := run(t, py, "-c", script, host, port); !strings.Contains(out, "OK") {
		t.Fatalf("python smtplib:\n%s", out)
	}
	envs, _ := ts.sub.calls()
	if n := len(envs); n == 0 || envs[n-1].Client.AuthUser != "alice" || envs[n-1].Client.Proto != "ESMTPSA" {
		t.Fatalf("envelopes %+v", envs)
	}
}
