package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Workloads beside the plain relay (docs/performance.md): "tls" puts
// STARTTLS on both hops, the generator into the MTA and the MTA into the
// sink, with one certificate for every server; signing is chosen by the
// MTA names (moonpost-rsa, moonpost-ed25519, postfix-opendkim).
const (
	workloadRelay = "relay"
	workloadTLS   = "tls"
)

// tlsFiles is the certificate every server of a TLS run presents.
type tlsFiles struct{ cert, key string }

// makeCert writes a self-signed ECDSA P-256 certificate for the bench
// host names into dir.
func makeCert(dir string) (tlsFiles, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tlsFiles{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench.test"},
		DNSNames:    []string{"bench.test", "sink.test", "moonpost.bench", "postfix.bench"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tlsFiles{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tlsFiles{}, err
	}
	f := tlsFiles{cert: filepath.Join(dir, "bench-cert.pem"), key: filepath.Join(dir, "bench-key.pem")}
	if err := os.WriteFile(f.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tlsFiles{}, err
	}
	// Postfix's smtpd reads the key as root before dropping privileges;
	// 0600 root is what it expects.
	return f, os.WriteFile(f.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// postfixTLS is the main.cf of a TLS run: offer STARTTLS, require it
// toward the sink (certificate not checked, as moonpost's "encrypt"),
// and cache sessions on both sides, as a production Postfix does.
const postfixTLS = `smtpd_tls_cert_file = %[1]s
smtpd_tls_key_file = %[2]s
smtpd_tls_security_level = may
smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache
smtp_tls_security_level = encrypt
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache
`

// tlsmgr is the master.cf line TLS session caching needs.
const tlsmgr = "tlsmgr    unix  - - n 1000? 1 tlsmgr\n"

// opendkim is Debian's OpenDKIM as a milter for Postfix, signing every
// message from the loopback clients with the same RSA key moonpost uses
// in its own signing runs (relaxed/relaxed, From oversigned).
type opendkim struct {
	addr   string
	cmd    *exec.Cmd
	log    lockedBuffer
	exited chan struct{}
	stop   func()
}

const opendkimConf = `Syslog no
Mode s
Domain example.org
Selector bench
KeyFile %s
Socket inet:%s@127.0.0.1
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
OversignHeaders From
InternalHosts 127.0.0.0/8
RequireSafeKeys no
Background no
UMask 002
`

func startOpenDKIM(dir, bin string) (*opendkim, error) {
	if _, err := exec.LookPath("opendkim"); err != nil {
		return nil, fmt.Errorf("opendkim not found: install Debian's opendkim package")
	}
	key := filepath.Join(dir, "example.org.bench.pem")
	if out, err := exec.Command(filepath.Join(bin, "moonpost"), "dkim", "keygen", "example.org", "bench",
		"--type", "rsa", "--out", key).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("moonpost dkim keygen: %v\n%s", err, out)
	}
	o := &opendkim{addr: freeAddr(), exited: make(chan struct{})}
	_, port, _ := net.SplitHostPort(o.addr)
	conf := filepath.Join(dir, "opendkim.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(opendkimConf, key, port)), 0o644); err != nil {
		return nil, err
	}
	o.cmd = exec.Command("opendkim", "-f", "-x", conf)
	o.cmd.Stdout, o.cmd.Stderr = &o.log, &o.log
	if err := o.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { o.cmd.Wait(); close(o.exited) }()
	o.stop = atExit(func() {
		o.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-o.exited:
		case <-time.After(10 * time.Second):
			o.cmd.Process.Kill()
			<-o.exited
		}
	})
	if err := waitListening(o.addr, 10*time.Second); err != nil {
		o.stop()
		return nil, fmt.Errorf("opendkim: %v\n%s", err, tail(o.log.String(), 20))
	}
	return o, nil
}

// postfixMilter is the main.cf of Postfix signing through OpenDKIM.
const postfixMilter = `smtpd_milters = inet:%s
non_smtpd_milters = $smtpd_milters
milter_default_action = tempfail
milter_protocol = 6
`

// sinkWantArgs asks the sink to count messages without the header a
// workload must add (a DKIM signature), so a run that did not sign is
// not counted as one that did.
func sinkWantArgs(header string) []string {
	if header == "" {
		return nil
	}
	return []string{"-want-header", header}
}

func tlsArgs(f *tlsFiles, flagCert, flagKey string) []string {
	if f == nil {
		return nil
	}
	return []string{flagCert, f.cert, flagKey, f.key}
}

// redisServer is a private redis-server on loopback for the runs that
// check a shared throttle per message (moonpost-throttle), with no
// persistence, stopped with the run.
type redisServer struct {
	addr   string
	cmd    *exec.Cmd
	log    lockedBuffer
	exited chan struct{}
	stop   func()
}

func startRedis(dir string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not found: install Debian's redis-server package")
	}
	r := &redisServer{addr: freeAddr(), exited: make(chan struct{})}
	host, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--bind", host, "--port", port, "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "no")
	r.cmd.Stdout, r.cmd.Stderr = &r.log, &r.log
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	r.stop = atExit(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
	})
	if err := waitListening(r.addr, 10*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("redis-server: %v\n%s", err, tail(r.log.String(), 20))
	}
	return r, nil
}

// throttleConfig makes every MAIL one shared GCRA check in Redis, far
// above the load's rate, so the check is paid and nothing is refused;
// loopback is not spared (client_event_limit_exceptions = []).
const throttleConfig = `
[redis]
addresses = [%q]
`

const throttleSMTPD = `client_event_limit_exceptions = []

[[smtpd.rate_limit]]
per = "client"
count = "messages"
rate = "1000000/s"
`
