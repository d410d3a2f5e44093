package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moonpost/moonpost/core/testserver"
)

// An mta is one system under test, started fresh for every run in its
// own directory, listening on a loopback port and relaying every message
// to the sink.
type mta interface {
	Name() string
	// Start starts the MTA in dir (empty, traversable by Postfix's user),
	// with smtpd on listen, relaying to sink.
	Start(dir, listen, sink string) error
	// Root is the pid whose process tree is measured.
	Root() int
	// Queued counts queue files not yet delivered; deferred those of
	// them that wait for a retry.
	Queued() (queued, deferred int)
	// LogTail is the end of the MTA's log, shown when a run fails.
	LogTail() string
	// Stop stops every process of the MTA.
	Stop()
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// queueFiles counts regular files under root's named subdirectories
// (recursively: Postfix hashes deferred/ into subdirectories).
func queueFiles(root string, dirs ...string) int {
	n := 0
	for _, d := range dirs {
		filepath.WalkDir(filepath.Join(root, d), func(_ string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				n++
			}
			return nil
		})
	}
	return n
}

// waitListening waits until addr accepts TCP connections.
func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %v", addr, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("no free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// moonpost runs the daemon built from this tree: default Lua scripts
// (embedded), fsync on (it cannot be turned off; queue.sync at its
// default, auto, unless -sync says otherwise), warn-level logging.
type moonpost struct {
	bin  string
	sync string // queue.sync; "" leaves the daemon's default (auto)
	dkim string // "rsa" or "ed25519": sign every message (From: example.org)
	tls  *tlsFiles
	// throttle: one shared throttle check (Redis) per message
	throttle bool
	redis    *redisServer
	// scan: every message through rspamd as a milter (moonpost-rspamd)
	scan   bool
	rspamd *rspamd
	routes map[string]string // domain → next hop; nil: all to the sink
	// sizeLimit: smtpd.message_size_limit (0: the default)
	sizeLimit int64
	dir       string
	cmd       *exec.Cmd
	log       lockedBuffer // stderr: warnings and errors only
	exited    chan struct{}
	stop      func()
}

// wantHeader is the header every relayed message must carry.
func (m *moonpost) wantHeader() string {
	switch {
	case m.scan:
		return rspamdWantHeader
	case m.dkim != "":
		return "DKIM-Signature"
	}
	return ""
}

func (m *moonpost) setRoutes(r map[string]string) { m.routes = r }

func (m *moonpost) Name() string {
	if m.throttle {
		return "moonpost (redis throttle)"
	}
	if m.scan {
		return "moonpost (rspamd)"
	}
	if m.dkim != "" {
		return "moonpost (dkim " + m.dkim + ")"
	}
	if m.sync != "" {
		return "moonpost (" + m.sync + ")"
	}
	return "moonpost"
}

// moonpostConfig is the relay configuration; docs/performance.md lists
// why each key is set.
const moonpostConfig = `myhostname = "moonpost.bench"
mydestination = ["moonpost.bench"]
spool_dir = %q
relayhost = "[%s]:%s"
log_level = "warn"

[smtpd]
listen = [%q]
max_connections = 110
max_connections_per_ip = 110

[smtp]
tls = "none"
`

func (m *moonpost) Start(dir, listen, sink string) error {
	m.dir = dir
	host, port, _ := net.SplitHostPort(sink)
	cfg := filepath.Join(dir, "moonpost.toml")
	body := fmt.Sprintf(moonpostConfig, filepath.Join(dir, "spool"), host, port, listen)
	if m.tls != nil {
		// STARTTLS offered, and required toward the sink (certificate
		// not checked: Postfix's smtp_tls_security_level = encrypt).
		body = strings.Replace(body, "[smtpd]\n", fmt.Sprintf("[smtpd]\ntls_cert = %q\ntls_key = %q\n", m.tls.cert, m.tls.key), 1)
		body = strings.Replace(body, "tls = \"none\"", "tls = \"encrypt\"", 1)
	}
	if m.sizeLimit > 0 {
		body = strings.Replace(body, "[smtpd]\n", fmt.Sprintf("[smtpd]\nmessage_size_limit = %d\n", m.sizeLimit), 1)
	}
	if m.routes != nil {
		scripts := filepath.Join(dir, "scripts")
		if out, err := exec.Command(filepath.Join(m.bin, "moonpost"), "scripts", "export", scripts).CombinedOutput(); err != nil {
			return fmt.Errorf("moonpost scripts export: %v\n%s", err, out)
		}
		if err := os.WriteFile(filepath.Join(scripts, "90-bench-routes.lua"), []byte(moonpostRoutes(m.routes)), 0o644); err != nil {
			return err
		}
		body += fmt.Sprintf("\n[hooks]\ndir = %q\n", scripts)
	}
	if m.throttle {
		r, err := startRedis(dir)
		if err != nil {
			return err
		}
		m.redis = r
		body = strings.Replace(body, "max_connections_per_ip = 110\n", "max_connections_per_ip = 110\n"+throttleSMTPD, 1)
		body += fmt.Sprintf(throttleConfig, r.addr)
	}
	if m.scan {
		r, err := startRspamd(dir)
		if err != nil {
			return err
		}
		m.rspamd = r
		body += r.milterTOML()
	}
	if m.sync != "" {
		body += fmt.Sprintf("\n[queue]\nsync = %q\n", m.sync)
	}
	if m.dkim != "" {
		key, err := m.keygen(dir)
		if err != nil {
			return err
		}
		body += fmt.Sprintf("\n[[dkim.sign]]\ndomain = \"example.org\"\nselector = \"bench\"\nkey = %q\n", key)
	}
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return err
	}
	args := []string{"-c", cfg}
	if *cpuProfiles != "" {
		// Named by the daemon's order in the whole benchmark.
		prof := filepath.Join(*cpuProfiles, fmt.Sprintf("moonpost-%03d.prof", profiled.Add(1)))
		logf("%s: CPU profile in %s", m.Name(), prof)
		args = append(args, "-cpuprofile", prof)
	}
	m.cmd = exec.Command(filepath.Join(m.bin, "moonpost"), args...)
	m.cmd.Dir = dir
	m.cmd.Stdout, m.cmd.Stderr = &m.log, &m.log
	if err := m.cmd.Start(); err != nil {
		return err
	}
	m.exited = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.exited) }()
	m.stop = atExit(m.terminate)
	if err := waitListening(listen, 20*time.Second); err != nil {
		return fmt.Errorf("moonpost: %v\n%s", err, tail(m.log.String(), 20))
	}
	return nil
}

// keygen makes the signing key for smtpload's From domain, example.org.
func (m *moonpost) keygen(dir string) (string, error) {
	key := filepath.Join(dir, "example.org.bench.pem")
	out, err := exec.Command(filepath.Join(m.bin, "moonpost"), "dkim", "keygen", "example.org", "bench",
		"--type", m.dkim, "--out", key).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("moonpost dkim keygen: %v\n%s", err, out)
	}
	return key, nil
}

// terminate sends SIGTERM and kills the daemon if it lingers.
func (m *moonpost) terminate() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(15 * time.Second):
		fmt.Fprintln(os.Stderr, "relaybench: moonpost ignored SIGTERM for 15 s; killing it")
		m.cmd.Process.Kill()
		<-m.exited
	}
}

func (m *moonpost) Root() int { return m.cmd.Process.Pid }

// Flush is "moonpost queue flush": deferred mail is due now.
func (m *moonpost) Flush() error {
	return command(filepath.Join(m.bin, "moonpost"), "queue", "flush", "-c", filepath.Join(m.dir, "moonpost.toml"))
}

func (m *moonpost) Queued() (int, int) {
	spool := filepath.Join(m.dir, "spool")
	return queueFiles(spool, "maildrop", "incoming", "active", "deferred", "hold"),
		queueFiles(spool, "deferred")
}

func (m *moonpost) Stop() {
	m.stop()
	if m.redis != nil {
		m.redis.stop()
	}
	if m.rspamd != nil {
		m.rspamd.stop()
	}
}

// helpers are redis-server's pid in a throttle run and rspamd's in a
// scanning run: their CPU is part of the cost.
func (m *moonpost) helpers() []int {
	var pids []int
	if m.redis != nil {
		pids = append(pids, m.redis.cmd.Process.Pid)
	}
	if m.rspamd != nil {
		pids = append(pids, m.rspamd.cmd.Process.Pid)
	}
	return pids
}

func (m *moonpost) LogTail() string { return tail(m.log.String(), 20) }

// postfix is a private Postfix instance in the shape of
// cmd/internal/interop: own main.cf, master.cf, queue and data
// directories, chroot off, started by `postfix -c DIR start`.
type postfix struct {
	dir    string
	tls    *tlsFiles
	milter string // "opendkim" (signing) or "rspamd" (scanning): smtpd_milters; "" none
	bin    string
	routes map[string]string // domain → next hop; nil: all to the sink
	// sizeLimit: message_size_limit (0: the default)
	sizeLimit int64
	filter    *helper // the milter's process while it runs
	stop      func()
}

// wantHeader is the header every relayed message must carry.
func (p *postfix) wantHeader() string {
	switch p.milter {
	case "opendkim":
		return "DKIM-Signature"
	case "rspamd":
		return rspamdWantHeader
	}
	return ""
}

func (p *postfix) setRoutes(r map[string]string) { p.routes = r }

// helpers is the milter's pid: its CPU is part of the cost.
func (p *postfix) helpers() []int {
	if p.filter == nil {
		return nil
	}
	return []int{p.filter.cmd.Process.Pid}
}

func (p *postfix) Name() string {
	if p.milter != "" {
		return "postfix (" + p.milter + ")"
	}
	return "postfix"
}

// postfixMain is main.cf. Queue manager and delivery settings are
// Postfix's defaults; docs/performance.md explains each line.
const postfixMain = `compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
myhostname = postfix.bench
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [%[2]s]:%[3]s
smtpd_client_connection_count_limit = 110
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
`

func (p *postfix) Start(dir, listen, sink string) error {
	p.dir = dir
	host, port, _ := net.SplitHostPort(sink)
	// Postfix's daemons run as the postfix user and must traverse dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"etc", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := command("chown", "postfix", filepath.Join(dir, "data")); err != nil {
		return err
	}
	files := map[string]string{
		"main.cf": fmt.Sprintf(postfixMain, dir, host, port),
		// smtpd's process limit is raised to 110 so 100 clients are served
		// at once (the default limit is 100 for all services).
		"master.cf": testserver.PostfixMaster(listen, "110"),
	}
	if p.routes != nil {
		files["transport"] = postfixTransport(p.routes)
		files["main.cf"] += "transport_maps = texthash:" + filepath.Join(p.etc(), "transport") + "\n"
	}
	if p.sizeLimit > 0 {
		// local(8) refuses a mailbox limit below the message limit.
		files["main.cf"] += fmt.Sprintf("message_size_limit = %d\nmailbox_size_limit = 0\n", p.sizeLimit)
	}
	if p.tls != nil {
		files["main.cf"] += fmt.Sprintf(postfixTLS, p.tls.cert, p.tls.key)
		files["master.cf"] += tlsmgr
	}
	if err := p.startMilter(dir); err != nil {
		return err
	}
	if p.filter != nil {
		files["main.cf"] += fmt.Sprintf(postfixMilter, p.filter.addr)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := command("postfix", "-c", p.etc(), "set-permissions"); err != nil {
		return err
	}
	p.stop = atExit(p.terminate)
	if err := command("postfix", "-c", p.etc(), "start"); err != nil {
		return fmt.Errorf("%v\n%s", err, p.maillog())
	}
	if err := waitListening(listen, 20*time.Second); err != nil {
		return fmt.Errorf("postfix: %v\n%s", err, p.maillog())
	}
	return nil
}

// startMilter starts the run's milter, if any.
func (p *postfix) startMilter(dir string) error {
	switch p.milter {
	case "opendkim":
		o, err := startOpenDKIM(dir, p.bin)
		if err != nil {
			return err
		}
		p.filter = &o.helper
	case "rspamd":
		r, err := startRspamd(dir)
		if err != nil {
			return err
		}
		p.filter = &r.helper
	}
	return nil
}

func (p *postfix) etc() string { return filepath.Join(p.dir, "etc") }

func (p *postfix) maillog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return tail(string(b), 20)
}

// Root is the master's pid, from its pid file.
func (p *postfix) Root() int {
	b, _ := os.ReadFile(filepath.Join(p.dir, "spool", "pid", "master.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (p *postfix) Queued() (int, int) {
	spool := filepath.Join(p.dir, "spool")
	return queueFiles(spool, "maildrop", "incoming", "active", "deferred", "hold"),
		queueFiles(spool, "deferred")
}

// Flush is postqueue -f.
func (p *postfix) Flush() error { return command("postqueue", "-c", p.etc(), "-f") }

func (p *postfix) Stop() {
	p.stop()
	if p.filter != nil {
		p.filter.stop()
	}
}

func (p *postfix) LogTail() string { return p.maillog() }

// terminate runs `postfix stop` and kills what is left of the process
// tree if the master lingers.
func (p *postfix) terminate() {
	root := p.Root()
	var procs map[int]procStat
	if root > 0 {
		procs = tree(root) // before stop: orphans leave the tree
	}
	command("postfix", "-c", p.etc(), "stop")
	deadline := time.Now().Add(15 * time.Second)
	for root > 0 && alive(root) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if root > 0 && alive(root) {
		fmt.Fprintln(os.Stderr, "relaybench: postfix master lingers after stop; killing its processes")
	}
	for pid := range procs {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// command runs a short command and reports its output on failure.
func command(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
