package milter

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/queue"
)

const opendkimConf = `Syslog no
Background no
Mode s
Domain example.test
Selector sel
KeyFile %[1]s/sel.private
Socket inet:%[2]s@127.0.0.1
PidFile %[1]s/opendkim.pid
Canonicalization relaxed/simple
SignatureAlgorithm rsa-sha256
InternalHosts 0.0.0.0/0
RequireSafeKeys false
`

// dkimVerify checks the signature of the message on stdin with dkimpy,
// the key given in the environment instead of DNS.
const dkimVerify = `
import os, sys, dkim
key = os.environ["DKIM_TXT"].encode()
ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda name, timeout=5: key)
print("pass" if ok else "fail")
`

// TestOpenDKIM: Debian's opendkim as a signing milter; the queued
// message carries its DKIM-Signature, which moonpost's verifier and
// dkimpy verify.
func TestOpenDKIM(t *testing.T) {
	bin, err1 := exec.LookPath("opendkim")
	genkey, err2 := exec.LookPath("opendkim-genkey")
	if err1 != nil || err2 != nil {
		t.Skip("SKIP: opendkim or opendkim-genkey not installed (Debian packages opendkim, opendkim-tools)")
	}
	dir := t.TempDir()
	if out, err := exec.Command(genkey, "-D", dir, "-d", "example.test", "-s", "sel").CombinedOutput(); err != nil {
		t.Fatalf("opendkim-genkey: %v\n%s", err, out)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "opendkim.conf")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(opendkimConf, dir, port)), 0o644))
	cmd := exec.Command(bin, "-f", "-x", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	waitListen(t, "127.0.0.1:"+port, exited, out)

	c, _ := setup(t, Config{Name: "opendkim", Address: "inet:127.0.0.1:" + port})
	msg := "From: Alice <alice@example.test>\r\nTo: bob@example.com\r\nSubject: signed\r\n\r\nHello, signed world.\r\n"
	env := smtpEnv("bob@example.com")
	env.Sender = "alice@example.test"
	id, err := c.Submit(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Submit: %v\n%s", err, out)
	}
	_, content := stored(t, c, queue.Incoming, id)
	if !strings.HasPrefix(content, "DKIM-Signature:") || !strings.Contains(content, "d=example.test") {
		t.Fatalf("no signature at the top:\n%s", content)
	}
	// The same over SMTP, with opendkim called live at each phase.
	ls := startLive(t, Config{Name: "opendkim", Address: "inet:127.0.0.1:" + port})
	sc, _ := dialSMTP(t, ls.addr)
	sc.want("EHLO client.example.org", "250 ")
	sc.want("MAIL FROM:<alice@example.test>", "250 ")
	sc.want("RCPT TO:<bob@example.com>", "250 ")
	sc.want("DATA", "354 ")
	liveID := strings.TrimPrefix(sc.want(msg+".", "250 "), "250 2.0.0 Ok: queued as ")
	_, liveContent := stored(t, ls.clean, queue.Incoming, queue.ID(liveID))
	if !strings.HasPrefix(liveContent, "DKIM-Signature:") {
		t.Fatalf("live: no signature at the top:\n%s", liveContent)
	}
	// moonpost's own verifier passes it, the key served by a DNS server
	// on loopback.
	ns := dnstest.NewServer(t)
	ns.Add(t, "sel._domainkey.example.test. 300 IN TXT "+quoteTXT(txtRecord(t, filepath.Join(dir, "sel.txt"))))
	v := &auth.Verifier{Resolver: dns.New(dns.Config{Servers: []string{ns.Addr}, Timeout: 2 * time.Second}), AuthservID: "mx.test"}
	for _, content := range []string{content, liveContent} {
		br := bufio.NewReader(strings.NewReader(content))
		h, err := textproto.ReadHeader(br)
		must(t, err)
		res := v.Check(context.Background(), env, &h, br)
		if len(res.DKIM) == 0 || res.DKIM[0].Domain != "example.test" || res.DKIM[0].Result != "pass" {
			t.Errorf("moonpost's verifier: %+v\n%s", res.DKIM, content)
		}
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil || exec.Command(py, "-c", "import dkim").Run() != nil {
		t.Skip("SKIP: dkimpy (Debian package python3-dkim) not installed; signature not verified")
	}
	for _, content := range []string{content, liveContent} {
		verify := exec.Command(py, "-c", dkimVerify)
		verify.Env = append(os.Environ(), "DKIM_TXT="+txtRecord(t, filepath.Join(dir, "sel.txt")))
		verify.Stdin = strings.NewReader(content)
		res, err := verify.CombinedOutput()
		if err != nil || strings.TrimSpace(string(res)) != "pass" {
			t.Errorf("dkimpy: %v %s\n%s", err, res, content)
		}
	}
}

// txtRecord joins the quoted strings of opendkim-genkey's sel.txt.
func txtRecord(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	must(t, err)
	var parts []string
	for s := string(b); ; {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			break
		}
		parts = append(parts, s[i+1:i+1+j])
		s = s[i+j+2:]
	}
	return strings.Join(parts, "")
}

// quoteTXT writes a TXT value as zone-file strings of at most 255 bytes.
func quoteTXT(v string) string {
	var parts []string
	for len(v) > 255 {
		parts, v = append(parts, `"`+v[:255]+`"`), v[255:]
	}
	return strings.Join(append(parts, `"`+v+`"`), " ")
}

func freePort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}

func waitListen(t *testing.T, addr string, exited chan error, out *strings.Builder) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("exited: %v\n%s", err, out)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not listening within a minute\n%s", addr, out)
}
