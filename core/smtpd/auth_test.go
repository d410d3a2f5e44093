package smtpd

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func authServer(t *testing.T) *testServer {
	return startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = staticAuth{user: "alice", pass: "secret"}
	})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthOnlyAfterTLSOnSubmission(t *testing.T) {
	ts := authServer(t)
	cl := dial(t, ts.subm)
	cl.expect("220 ")
	ehlo := cl.cmd("EHLO client.example").expect("250 ")
	if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("before TLS:\n%s", ehlo)
	}
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("530 5.7.0")
	cl.cmd("MAIL FROM:<alice@local.example>").expect("530 5.7.0")

	cl.startTLS()
	ehlo = cl.cmd("EHLO client.example").expect("250 ")
	if !strings.Contains(ehlo, "AUTH PLAIN LOGIN") || strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("after TLS:\n%s", ehlo)
	}
	cl.cmd("MAIL FROM:<alice@local.example>").expect("530 5.7.0")

	// The plain smtp listener never offers AUTH, even under TLS.
	cl2 := dialReady(t, ts.smtp).startTLS()
	if ehlo := cl2.cmd("EHLO client.example").expect("250 "); strings.Contains(ehlo, "AUTH") {
		t.Errorf("smtp listener offers AUTH:\n%s", ehlo)
	}
	cl2.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("503 5.5.1")
}

func TestAuthMechanisms(t *testing.T) {
	ts := authServer(t)
	cases := []struct {
		name   string
		dialog []string // alternating command, expected reply prefix
	}{
		{"PLAIN ok", []string{"AUTH PLAIN " + b64("\x00alice\x00secret"), "235 2.0.0"}},
		{"PLAIN bad", []string{"AUTH PLAIN " + b64("\x00alice\x00wrong"), "535 5.7.8"}},
		{"PLAIN other identity", []string{"AUTH PLAIN " + b64("bob\x00alice\x00secret"), "535 5.7.8"}},
		{"PLAIN no IR", []string{"AUTH PLAIN", "334 ", b64("\x00alice\x00secret"), "235 "}},
		{"LOGIN ok", []string{"AUTH LOGIN", "334 " + b64("Username:"), b64("alice"), "334 " + b64("Password:"), b64("secret"), "235 2.0.0"}},
		{"LOGIN IR", []string{"AUTH LOGIN " + b64("alice"), "334 " + b64("Password:"), b64("secret"), "235 "}},
		{"LOGIN bad", []string{"AUTH LOGIN", "334 ", b64("alice"), "334 ", b64("nope"), "535 5.7.8"}},
		{"LOGIN cancel", []string{"AUTH LOGIN", "334 ", "*", "501 "}},
		{"unknown mech", []string{"AUTH CRAM-MD5", "504 5.5.4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := dialReady(t, ts.subm).startTLS()
			cl.cmd("EHLO client.example").expect("250 ")
			for i := 0; i < len(c.dialog); i += 2 {
				cl.cmd(c.dialog[i]).expect(c.dialog[i+1])
			}
		})
	}
}

func TestAuthenticatorErrorIsTemporary(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = staticAuth{err: errBoom}
	})
	cl := dialReady(t, ts.subm).startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("454 4.7.0")
}

func TestImplicitTLSSubmission(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = staticAuth{user: "alice", pass: "secret"}
		c.Listeners = []Listener{{Name: "submissions", Addr: "127.0.0.1:0", Submission: true, ImplicitTLS: true}}
	})
	cl := dial(t, ts.smtp).wrapTLS()
	cl.expect("220 ")
	ehlo := cl.cmd("EHLO client.example").expect("250 ")
	if !strings.Contains(ehlo, "AUTH PLAIN LOGIN") || strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("implicit TLS EHLO:\n%s", ehlo)
	}
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("235 ")
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	h, err := hashPassword("secret", 1000)
	if err != nil {
		t.Fatal(err)
	}
	write := func(content string, mtime time.Time) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chtimes(path, mtime, mtime)
	}
	write("# users\n\nalice:"+h+"\n", time.Now().Add(-time.Hour))
	pf := &PasswordFile{Path: path}
	ctx := context.Background()
	check := func(user, pass string, want bool) {
		t.Helper()
		ok, err := pf.Authenticate(ctx, user, pass)
		if err != nil || ok != want {
			t.Errorf("Authenticate(%q, %q) = %v, %v; want %v", user, pass, ok, err, want)
		}
	}
	check("alice", "secret", true)
	check("alice", "Secret", false)
	check("bob", "secret", false)

	h2, _ := hashPassword("hunter2", 1000)
	write("alice:"+h+"\nbob:"+h2+"\n", time.Now())
	check("bob", "hunter2", true)

	write("bob:"+h2+"\nalice:{MD5}abc\n", time.Now().Add(time.Minute))
	if _, err := pf.Authenticate(ctx, "alice", "x"); err == nil {
		t.Error("unknown scheme must be an error, not a failed login")
	}
	write("garbage line\n", time.Now().Add(2*time.Minute))
	if _, err := pf.Authenticate(ctx, "alice", "x"); err == nil {
		t.Error("malformed file must be an error")
	}
	// HashPassword itself is hashPassword at DefaultIterations; running it
	// here would cost seconds under -race.
	if !strings.HasPrefix(h, "{PBKDF2-SHA256}1000$") || DefaultIterations < 600000 {
		t.Errorf("hash format %q, default work factor %d", h, DefaultIterations)
	}
}
