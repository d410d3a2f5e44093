package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Redis is a running redis-server.
type Redis struct {
	Addr string // host:port on 127.0.0.1
	t    testing.TB
	dir  string
	args []string // extra redis-server arguments
	conf string   // sentinel: its configuration file, the first argument
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartRedis starts a redis-server with no persistence; Stop (also run
// at cleanup) ends it. args are extra server arguments ("--cluster-enabled",
// "yes", ...).
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin := findBinary("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if bin == "" {
		t.Skip("SKIP: redis-server not installed (apt-get install redis-server; see .ci/install-deps) — Redis tests NOT RUN")
	}
	r := &Redis{t: t, dir: t.TempDir(), Addr: freePort(t), args: args}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// StartSentinel starts a Sentinel monitoring master under name.
func StartSentinel(t testing.TB, master *Redis, name string) *Redis {
	t.Helper()
	host, port, _ := net.SplitHostPort(master.Addr)
	s := &Redis{t: t, dir: t.TempDir(), Addr: freePort(t)}
	s.conf = s.dir + "/sentinel.conf"
	conf := fmt.Sprintf("sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n", name, host, port, name)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on the same address, with empty data:
// what a restart without persistence looks like to clients.
func (r *Redis) Start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.Addr)
	bin := findBinary("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	var args []string
	if r.conf != "" {
		args = []string{r.conf, "--sentinel"}
	}
	args = append(args, []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--daemonize", "no", "--protected-mode", "yes"}...)
	args = append(args, r.args...)
	r.cmd = exec.Command(bin, args...)
	log, err := os.Create(r.dir + "/redis.log")
	if err != nil {
		r.t.Fatal(err)
	}
	defer log.Close()
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(r.cmd, r.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.ping() {
			return
		}
		select {
		case <-r.done:
			raw, _ := os.ReadFile(r.dir + "/redis.log")
			r.t.Fatalf("redis-server exited: %s", raw)
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.t.Fatalf("redis-server on %s not ready after 10s", r.Addr)
}

// ping sends PING in the inline protocol and waits for +PONG.
func (r *Redis) ping() bool {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(c, "PING\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Stop kills the server and waits for it; stopping twice is harmless.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("redis-server did not exit")
	}
	r.cmd = nil
}

func findBinary(name string, paths ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
