package app

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// sdNotify sends state to the service manager, as sd_notify(3) does:
// one datagram of newline-separated KEY=VALUE lines to the unix socket
// named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace). Without $NOTIFY_SOCKET, outside systemd or under
// Type=simple, it does nothing and returns nil. The daemon sends
// READY=1 once it listens and serves, RELOADING=1 and READY=1 around a
// reload, STOPPING=1 when it starts to shut down; failures are only
// logged, never fatal: mail does not depend on the service manager.
func sdNotify(state ...string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] != '/' && path[0] != '@' {
		return fmt.Errorf("NOTIFY_SOCKET %q: not a socket path", path)
	}
	name := path
	if name[0] == '@' {
		name = "\x00" + name[1:] // abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: %w", path, err)
	}
	defer c.Close()
	_, err = c.Write([]byte(strings.Join(state, "\n") + "\n"))
	return err
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which RELOADING=1
// carries as MONOTONIC_USEC (systemd 253 and later use it to tell one
// reload from the next).
func monotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Sprint(time.Now().UnixMicro())
	}
	return fmt.Sprint(ts.Sec*1e6 + ts.Nsec/1e3)
}

// notify is sdNotify with a failure logged.
func notify(log interface{ Warn(string, ...any) }, state ...string) {
	if err := sdNotify(state...); err != nil {
		log.Warn("moonpost: cannot notify the service manager", "err", err)
	}
}
