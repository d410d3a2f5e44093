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
	"strings"
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
type opendkim struct{ helper }

// helper is a process a run starts beside the MTA (OpenDKIM,
// redis-server, rspamd), listening on addr and stopped with the run.
type helper struct {
	addr   string
	wait   time.Duration // how long its start may take; 0: 10 s
	cmd    *exec.Cmd
	log    lockedBuffer
	exited chan struct{}
	stop   func()
}

// run starts h.cmd in a process group of its own and waits until it
// listens on h.addr; SIGTERM, then SIGKILL after 10 s, to the whole
// group (rspamd's workers too) stops it at the end of the run.
func (h *helper) run(name string) error {
	h.exited = make(chan struct{})
	h.cmd.Stdout, h.cmd.Stderr = &h.log, &h.log
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		return err
	}
	go func() { h.cmd.Wait(); close(h.exited) }()
	pgid := h.cmd.Process.Pid
	h.stop = atExit(func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-h.exited
		}
	})
	wait := h.wait
	if wait == 0 {
		wait = 10 * time.Second
	}
	if err := waitListening(h.addr, wait); err != nil {
		h.stop()
		return fmt.Errorf("%s: %v\n%s", name, err, tail(h.log.String(), 20))
	}
	return nil
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
	o := &opendkim{helper{addr: freeAddr()}}
	_, port, _ := net.SplitHostPort(o.addr)
	conf := filepath.Join(dir, "opendkim.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(opendkimConf, key, port)), 0o644); err != nil {
		return nil, err
	}
	o.cmd = exec.Command("opendkim", "-f", "-x", conf)
	return o, o.run("opendkim")
}

// postfixMilter is the main.cf of Postfix calling a milter (OpenDKIM
// signing, rspamd scanning).
const postfixMilter = `smtpd_milters = inet:%s
non_smtpd_milters = $smtpd_milters
milter_default_action = tempfail
milter_protocol = 6
`

// sinkWantArgs asks the sink to count messages without the header a
// workload must add (a DKIM signature, rspamd's X-Spam-Status), so a run
// that did not sign or scan is not counted as one that did.
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
type redisServer struct{ helper }

func startRedis(dir string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not found: install Debian's redis-server package")
	}
	r := &redisServer{helper{addr: freeAddr()}}
	host, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--bind", host, "--port", port, "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "no")
	return r, r.run("redis-server")
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

// The per-destination workloads: "fanout" sends every message to
// fanoutRcpts recipients over fanoutDomains domains, each domain its own
// next hop (a sink address 127.0.0.(10+k)); "tarpit" spreads messages
// over tarpitDomains domains, each its own next hop, and d0's next hop
// is a sink that answers every command after tarpitDelay.
const (
	workloadFanout = "fanout"
	workloadTarpit = "tarpit"
	fanoutDomains  = 50
	fanoutRcpts    = 100
	tarpitDomains  = 20
	tarpitDelay    = 20 * time.Second
	// destinationConcurrency is both MTAs' limit of connections to one
	// destination: Postfix's default_destination_concurrency_limit and
	// moonpost's queue.destination_concurrency, both left at 20.
	destinationConcurrency = 20
)

// routing is a run's per-domain next hops.
type routing struct {
	domains, rcpts int
	tarpit         bool // d0's sink is the tarpit (else a plain sink of its own)
}

// nexthops picks a free address for each domain: 127.0.0.10 onwards,
// 200 addresses a /24 (127.0.1.10 after 127.0.0.209).
func (r *routing) nexthops() []string {
	out := make([]string, r.domains)
	for k := range out {
		ip := fmt.Sprintf("127.0.%d.%d", k/200, 10+k%200)
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			fatalf("no free port on %s: %v", ip, err)
		}
		out[k] = l.Addr().String()
		l.Close()
	}
	return out
}

// domain is the k-th destination domain, as smtpload -domains names it.
func domain(k int) string { return fmt.Sprintf("d%d.remote.test", k) }

// mainTarget is what the main sink must count: every recipient for
// fanout; for tarpit the messages of d1.. (message k goes to d(k%20)).
func (r *routing) mainTarget(n int) int {
	if r.domains == tarpitDomains && r.rcpts == 1 {
		return n - (n+tarpitDomains-1)/tarpitDomains
	}
	return n * r.rcpts
}

// routed is an MTA that can send each domain to its own next hop.
type routed interface {
	setRoutes(map[string]string)
}

// postfixTransport is transport(5) for the routes (texthash: no postmap).
func postfixTransport(routes map[string]string) string {
	var b strings.Builder
	for d, hop := range routes {
		host, port, _ := net.SplitHostPort(hop)
		fmt.Fprintf(&b, "%s relay:[%s]:%s\n", d, host, port)
	}
	return b.String()
}

// moonpostRoutes is a transport hook sending each domain to its next
// hop, on top of the shipped scripts.
func moonpostRoutes(routes map[string]string) string {
	var b strings.Builder
	b.WriteString("-- relaybench: each destination domain to its own sink address\nlocal hops = {\n")
	for d, hop := range routes {
		host, port, _ := net.SplitHostPort(hop)
		fmt.Fprintf(&b, "  [%q] = %q,\n", d, fmt.Sprintf("smtp:[%s]:%s", host, port))
	}
	b.WriteString("}\nmta.on(\"transport\", function(rcpt, m)\n  local d = rcpt:match(\"@(.+)$\")\n  return d and hops[d:lower()]\nend)\n")
	return b.String()
}

// The recovery workload (an outage, then a flush): every domain its own
// next hop, none listening while the load is injected, so the MTA
// defers all of it; then the sinks come up, the MTA is told to flush,
// and the drain is measured.
const (
	workloadRecovery = "recovery"
	recoveryDomains  = 1000
)

// flusher is an MTA that can be told to retry its deferred mail now.
type flusher interface {
	Flush() error
}
