package app

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

// topSnapshot is one poll of the daemon: its status and the queue's
// shape, and when they were taken.
type topSnapshot struct {
	at     time.Time
	status control.Status
	stats  admin.Stats
}

// topCmd is "moonpost top [-c file] [--interval 1s] [--once]": a live
// view of the running daemon, redrawn at every interval from the
// control socket's status and queue stats (the same calls as "moonpost
// status" and "moonpost queue stats"). q or Ctrl-C quits.
func topCmd(args []string) int {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	interval := fs.Duration("interval", time.Second, "time between two polls")
	once := fs.Bool("once", false, "print one frame (after one interval, for the rates) and exit")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *interval < 100*time.Millisecond {
		fmt.Fprintln(os.Stderr, "usage: moonpost top [-c file] [--interval 1s] [--once]")
		return exUsage
	}
	c, rc := dialDaemon(*cfgPath)
	if c == nil {
		return rc
	}
	defer c.Close()
	quit := make(chan struct{}, 1)
	restore := keyQuits(quit, *once)
	defer restore()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	prev, err := pollTop(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return exOK
		case <-sigs:
			return exOK
		case <-tick.C:
		}
		cur, err := pollTop(c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "\nmoonpost:", err)
			return exTempFail
		}
		frame := renderTop(prev, cur, termWidth())
		if *once {
			fmt.Print(frame)
			return exOK
		}
		fmt.Print("\x1b[H\x1b[2J" + strings.ReplaceAll(frame, "\n", "\r\n"))
		prev = cur
	}
}

func pollTop(c *control.Client) (*topSnapshot, error) {
	s := &topSnapshot{at: time.Now()}
	if err := c.Call(control.Request{Op: "status"}, &s.status); err != nil {
		return nil, err
	}
	if err := c.Call(control.Request{Op: "queue", Action: "stats"}, &s.stats); err != nil {
		return nil, err
	}
	return s, nil
}

// topStates are the queue rows, in the order mail moves.
var topStates = []string{"maildrop", "incoming", "active", "deferred", "hold", "corrupt"}

// renderTop draws one frame: rates from the counters' change since
// prev, queue sizes, and the destinations with the most deferred mail.
// Lines are cut at width.
func renderTop(prev, cur *topSnapshot, width int) string {
	var b strings.Builder
	st := &cur.status
	fmt.Fprintf(&b, "moonpost top - pid %d, up %s, %s    %s\n", st.PID, st.Uptime, scriptsLine(st), cur.at.Format("15:04:05"))
	secs := cur.at.Sub(prev.at).Seconds()
	rate := func(k string) float64 {
		if secs <= 0 {
			return 0
		}
		return max(0, float64(cur.status.Counters[k]-prev.status.Counters[k])/secs)
	}
	fmt.Fprintf(&b, "\nper second   %10s %10s %10s %10s\n", "received", "delivered", "deferred", "bounced")
	fmt.Fprintf(&b, "             %10.1f %10.1f %10.1f %10.1f\n", rate("received"), rate("delivered"), rate("deferred"), rate("bounced"))
	fmt.Fprintf(&b, "since start  %10d %10d %10d %10d\n", st.Counters["received"], st.Counters["delivered"], st.Counters["deferred"], st.Counters["bounced"])
	fmt.Fprintf(&b, "deliveries in flight: %d\n", st.Counters["in_flight"])
	fmt.Fprintf(&b, "\nqueue        %10s %10s\n", "messages", "KB")
	for _, q := range topStates {
		c, ok := cur.stats.States[queue.State(q)]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  %-10s %10d %10d\n", q, c.Messages, (c.Bytes+1023)/1024)
	}
	if o := cur.stats.Oldest; o != nil {
		fmt.Fprintf(&b, "  oldest %s in %s, %s old\n", o.ID, o.State, o.Age)
	}
	fmt.Fprintf(&b, "\nbusiest destinations (deferred)  %10s %10s\n", "messages", "rcpts")
	if len(cur.stats.TopDeferred) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, d := range cur.stats.TopDeferred {
		fmt.Fprintf(&b, "  %-30s %10d %10d\n", d.Domain, d.Messages, d.Recipients)
	}
	writeBusiest(&b, "busiest sites", prev.status.Sites, cur.status.Sites, secs)
	writeBusiest(&b, "busiest tenants", prev.status.Tenants, cur.status.Tenants, secs)
	b.WriteString("\nq quits\n")
	return cutLines(b.String(), width)
}

func scriptsLine(st *control.Status) string {
	switch {
	case !st.Scripts:
		return "no scripts"
	case st.LastError != "":
		return fmt.Sprintf("scripts generation %d (last reload failed)", st.Generation)
	}
	return fmt.Sprintf("scripts generation %d", st.Generation)
}

func cutLines(s string, width int) string {
	if width <= 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if len(l) > width {
			lines[i] = l[:width]
		}
	}
	return strings.Join(lines, "\n")
}

// termWidth is the terminal's width, 0 when stdout is not one.
func termWidth() int {
	ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// keyQuits puts a terminal stdin in cbreak mode (keys without Enter, no
// echo) and signals quit when q is pressed. The returned function puts
// the terminal back. Without a terminal it does nothing.
func keyQuits(quit chan<- struct{}, skip bool) (restore func()) {
	fd := int(os.Stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if skip || err != nil {
		return func() {}
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if unix.IoctlSetTermios(fd, unix.TCSETS, &raw) != nil {
		return func() {}
	}
	fmt.Print("\x1b[?25l") // hide the cursor
	go func() {
		buf := make([]byte, 1)
		for {
			if n, err := os.Stdin.Read(buf); err != nil || n == 1 && (buf[0] == 'q' || buf[0] == 'Q') {
				quit <- struct{}{}
				return
			}
		}
	}()
	return func() {
		unix.IoctlSetTermios(fd, unix.TCSETS, old)
		fmt.Print("\x1b[?25h\n")
	}
}
