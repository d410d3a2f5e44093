// Command relaybench is the relay benchmark of issue 6: for each point of
// a matrix (message size × concurrent clients) it injects N messages into
// a private Postfix instance and into moonpost, one after the other, both
// relaying everything to the same kind of counting sink on loopback, and
// prints accept rate, relay rate, MTA CPU per message, peak memory and
// the sink's count, with the ratio moonpost/Postfix. It also measures the
// loopback ceiling (generator straight into the sink) and the disk's
// durable-write ceiling. Run it as root from the repository root, or use
// bench/run, which installs Postfix's tools first. docs/performance.md
// describes the method and the settings.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// options are the command-line flags.
type options struct {
	workload             string
	workloads            []string // what -workload names: one, or all of them in order
	quick, check, noCeil bool
	onePoint             bool // -quick without -sizes/-clients: the workloads after relay run the first point only
	n, runs              int
	millionN             int // the million workload's deferred messages
	largeN, largeSize    int // the large workload's messages and their size
	largeCeil            []diskRate
	sizes, clients       []int
	mtas                 []string
	out, svg             string
	setup
}

// syncMode is moonpost's queue.sync for the run.
var syncMode = flag.String("sync", "", "moonpost's queue.sync: auto (the daemon's default), fsync or syncfs")

// cpuProfiles, when set, is where each moonpost daemon of the benchmark
// writes its CPU profile (moonpost -cpuprofile), numbered in start order.
var (
	cpuProfiles = flag.String("cpuprofile", "", "write each moonpost daemon's CPU profile into this directory (moonpost-NNN.prof, in start order)")
	profiled    atomic.Int32
)

func parseFlags() options {
	var o options
	sizes := flag.String("sizes", "1024,20480", "message sizes in bytes")
	clients := flag.String("clients", "20,100", "concurrent clients")
	mtas := flag.String("mtas", "postfix,moonpost", "MTAs to run, in this order (moonpost-rsa, moonpost-ed25519, postfix-opendkim: signing with DKIM; moonpost-throttle: a Redis throttle check per message; postfix-rspamd, moonpost-rspamd: every message scanned by rspamd as a milter)")
	workload := flag.String("workload", workloadRelay, "relay (plain SMTP), tls (STARTTLS into the MTA and from it to the sink), fanout (100 recipients over 50 domains, each its own next hop), tarpit (20 domains, one a sink that answers after 20 s; each MTA run with and without it), recovery (N deferred to 1000 next hops that are down, then they come back and the MTA is flushed), million (-million deferred messages: listing them, starting with them, idle memory), large (-large messages of -large-size bytes relayed; MiB/s against the disk's ceiling) or all (each of them in that order)")
	flag.IntVar(&o.millionN, "million", 1000000, "the million workload's deferred messages")
	flag.IntVar(&postfixSeed, "postfix-seed", postfixSeed, "the million workload: Postfix's queue gets this many messages over SMTP, and copies of their queue files for the rest")
	flag.IntVar(&o.largeN, "large", 200, "the large workload's messages")
	flag.IntVar(&o.largeSize, "large-size", 10<<20, "the large workload's message size in bytes")
	flag.BoolVar(&o.quick, "quick", false, "development mode: -n 2000 -runs 1 -million 20000 -large 20, and the workloads after relay at the first size and client count only")
	flag.BoolVar(&o.check, "check", false, "only check the instruments: both generators × both sinks, straight and through Postfix")
	flag.BoolVar(&o.noCeil, "no-ceilings", false, "skip the loopback and disk ceilings")
	flag.IntVar(&o.n, "n", 20000, "messages per run")
	flag.IntVar(&o.runs, "runs", 3, "runs per point (median, min, max)")
	flag.StringVar(&o.gen, "gen", genSmtpload, "load generator: smtpload or smtp-source")
	flag.StringVar(&o.sink, "sink", sinkSmtpsink, "sink: smtpsink or smtp-sink (which cannot see duplicates)")
	flag.StringVar(&o.work, "workdir", os.TempDir(), "where spools and the disk test live")
	flag.StringVar(&o.spool, "spoolfs", spoolExt4NoJnl, "each run's spool file system: "+spoolExt4NoJnl+", "+spoolExt4+" (fresh, loop-mounted) or "+spoolShared+" (a directory of -workdir)")
	flag.DurationVar(&o.limit, "limit", 10*time.Minute, "bound on each phase of a run")
	flag.StringVar(&o.out, "o", "", "also write the report (markdown) to this file")
	flag.StringVar(&o.svg, "svg", "", "write an SVG plot of messages delivered over time per point into this directory")
	flag.Parse()
	if o.quick {
		// -quick changes the defaults only; an explicit -n or -runs wins.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["n"] {
			o.n = 2000
		}
		if !set["runs"] {
			o.runs = 1
		}
		if !set["million"] {
			o.millionN = 20000
		}
		if !set["large"] {
			o.largeN = 20
		}
		o.onePoint = !set["sizes"] && !set["clients"]
	}
	if _, err := mkfsArgs(o.spool); err != nil && o.spool != spoolShared {
		fatalf("%v", err)
	}
	o.sizes, o.clients = ints(*sizes), ints(*clients)
	switch *workload {
	case workloadAll:
		o.workloads = allWorkloads
	case workloadRelay:
		o.workloads = []string{workloadRelay}
	case workloadTLS, workloadFanout, workloadTarpit, workloadRecovery, workloadMillion, workloadLarge:
		o.workloads = []string{*workload}
	default:
		fatalf("unknown workload %q (%s, all)", *workload, strings.Join(allWorkloads, ", "))
	}
	if *workload != workloadRelay && (o.gen != genSmtpload || o.sink != sinkSmtpsink) {
		fatalf("-workload %s needs -gen smtpload and -sink smtpsink (Postfix's smtp-source and smtp-sink have no TLS, fan-out, tarpit or timeline)", *workload)
	}
	if o.millionN <= 0 || o.largeN <= 0 || o.largeSize <= 0 {
		fatalf("-million, -large and -large-size must be positive")
	}
	o.mtas = strings.Split(*mtas, ",")
	return o
}

// The workloads -workload all runs, in order; fanout there sends
// -n/fanoutN messages.
const (
	workloadAll = "all"
	fanoutN     = 50
)

var allWorkloads = []string{workloadRelay, workloadTLS, workloadFanout, workloadTarpit, workloadRecovery, workloadMillion, workloadLarge}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			fatalf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out
}

func main() {
	handleSignals()
	o := parseFlags()
	preflight(o.mtas)
	o.bin = build(o.work)
	rep := &report{}
	rep.machine(o)
	if o.check {
		instrumentCheck(o, rep)
	} else {
		if !o.noCeil {
			diskCeiling(o, rep)
		}
		for _, w := range o.workloads {
			runWorkload(o, w, rep)
			rep.flush(o.out) // each finished workload is kept, should a later one fail
		}
	}
	rep.flush(o.out)
	runCleanups()
}

// helperNeeds are the programs MTA names run beside the MTA, from
// Debian's packages of the same names (.ci/install-deps installs them).
var helperNeeds = map[string]string{"postfix-opendkim": "opendkim", "moonpost-throttle": "redis-server",
	"postfix-rspamd": "rspamd", "moonpost-rspamd": "rspamd"}

// runWorkload runs one workload with its own settings on top of o's.
func runWorkload(o options, w string, rep *report) {
	o.workload = w
	if w == workloadRelay {
		o.workload = ""
	}
	if len(o.workloads) > 1 {
		rep.section(o)
	}
	if o.onePoint && w != workloadRelay {
		o.sizes, o.clients = o.sizes[:1], o.clients[:1]
	}
	if w == workloadFanout && len(o.workloads) > 1 {
		// 100 recipients a message: -n/50 messages are 2·n deliveries.
		o.n = max(o.n/fanoutN, 1)
	}
	switch w {
	case workloadTLS:
		f, err := makeCert(o.bin)
		if err != nil {
			fatalf("certificate: %v", err)
		}
		o.tls = &f
	case workloadFanout:
		o.route = &routing{domains: fanoutDomains, rcpts: fanoutRcpts}
	case workloadMillion:
		million(o, rep)
		return
	case workloadLarge:
		large(o, rep)
		return
	}
	matrix(o, rep)
}

// preflight refuses to start without what a run needs.
func preflight(mtas []string) {
	if _, err := os.Stat("go.mod"); err != nil {
		fatalf("run from the repository root (no go.mod here)")
	}
	if os.Getuid() != 0 {
		fatalf("must run as root: Postfix's master starts as root (use bench/run)")
	}
	for _, t := range []string{"postfix", "smtp-source", "smtp-sink", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(t); err != nil {
			fatalf("%s not found; bench/run installs Debian's postfix package", t)
		}
	}
	for _, name := range mtas {
		if t, ok := helperNeeds[name]; ok {
			if _, err := exec.LookPath(t); err != nil {
				fatalf("-mtas %s needs %s: install Debian's %s package (.ci/install-deps does)", name, t, t)
			}
		}
	}
}

// build compiles moonpost and the tools into a temporary directory.
func build(work string) string {
	bin, err := os.MkdirTemp(work, "relaybench-bin-")
	if err != nil {
		fatalf("%v", err)
	}
	atExit(func() { os.RemoveAll(bin) })
	logf("building moonpost and the bench tools (%s)", runtime.Version())
	cmd := exec.Command("go", "build", "-o", bin+"/", "./cmd/moonpost",
		"./bench/smtpload", "./bench/smtpsink", "./bench/diskbench", "./bench/queuefill")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fatalf("go build: %v", err)
	}
	return bin
}

func newMTA(name string, s setup) mta {
	switch name {
	case "postfix":
		return &postfix{tls: s.tls, sizeLimit: s.sizeLimit}
	case "postfix-opendkim": // signing every message through OpenDKIM
		return &postfix{tls: s.tls, milter: "opendkim", bin: s.bin}
	case "postfix-rspamd": // every message scanned by rspamd at DATA
		return &postfix{tls: s.tls, milter: "rspamd", bin: s.bin}
	case "moonpost":
		return &moonpost{bin: s.bin, sync: *syncMode, tls: s.tls, sizeLimit: s.sizeLimit}
	case "moonpost-throttle": // one shared (Redis) throttle check per message
		return &moonpost{bin: s.bin, sync: *syncMode, tls: s.tls, throttle: true}
	case "moonpost-rspamd": // every message scanned by rspamd at DATA
		return &moonpost{bin: s.bin, sync: *syncMode, tls: s.tls, scan: true}
	case "moonpost-rsa", "moonpost-ed25519": // signing every message with DKIM
		return &moonpost{bin: s.bin, sync: *syncMode, tls: s.tls, dkim: strings.TrimPrefix(name, "moonpost-")}
	}
	fatalf("unknown MTA %q (postfix, postfix-opendkim, postfix-rspamd, moonpost, moonpost-throttle, moonpost-rsa, moonpost-ed25519, moonpost-rspamd)", name)
	return nil
}

// matrix runs every point: the loopback ceiling, then the MTAs run after
// run, interleaved so a drift of the machine hits both alike.
func matrix(o options, rep *report) {
	for _, size := range o.sizes {
		for _, c := range o.clients {
			p := point{size: size, clients: c, n: o.n}
			rows := map[string][]result{}
			// No loopback ceiling where the load goes to many next hops
			// (fanout's 50, recovery's 1000): the generator speaks to one.
			if !o.noCeil && o.workload != workloadRecovery && o.route == nil {
				rows["loopback"] = repeat(o, p, "loopback", func() result { return measure(o.setup, nil, p) })
			}
			labels := o.mtas
			if o.workload == workloadTarpit {
				labels = nil
				for _, name := range o.mtas {
					labels = append(labels, name, name+" (tarpit)")
				}
			}
			for i := 0; i < o.runs; i++ {
				for _, label := range labels {
					s := o.setup
					name, tarpit := strings.CutSuffix(label, " (tarpit)")
					if o.workload == workloadTarpit {
						s.route = &routing{domains: tarpitDomains, rcpts: 1, tarpit: tarpit}
					}
					var r result
					if o.workload == workloadRecovery {
						r = measureRecovery(s, newMTA(name, s), p)
					} else {
						r = measure(s, newMTA(name, s), p)
					}
					logRun(label, p, i, r)
					rows[label] = append(rows[label], r)
				}
			}
			rep.point(p, labels, rows)
			if o.workload == workloadTarpit {
				rep.tarpit(p, o.mtas, rows)
			}
			if o.workload == workloadLarge {
				rep.large(p, o.mtas, rows, o.largeCeil)
			}
			if o.svg != "" {
				writePlot(o, p, rows)
			}
		}
	}
}

// writePlot draws the first clean run of each MTA at point p.
func writePlot(o options, p point, rows map[string][]result) {
	var ss []series
	for _, name := range o.mtas {
		for _, label := range []string{name, name + " (tarpit)"} {
			for _, r := range rows[label] {
				if r.ok(p.n) && len(r.timeline) > 0 {
					ss = append(ss, series{label, r.timeline})
					break
				}
			}
		}
	}
	if len(ss) == 0 {
		return
	}
	if err := os.MkdirAll(o.svg, 0o755); err != nil {
		fatalf("%v", err)
	}
	name := fmt.Sprintf("%s-%db-%dc", workloadOr(o.workload), p.size, p.clients)
	title := fmt.Sprintf("%s workload, %s messages, %d clients, N=%d", workloadOr(o.workload), sizeName(p.size), p.clients, p.n)
	writeSVG(o.svg, name+".svg", plotSVG(title, "messages delivered", ss))
	// The queue over time, where it was sampled (tarpit, recovery).
	var qs []series
	for _, name := range o.mtas {
		for _, label := range []string{name, name + " (tarpit)"} {
			for _, r := range rows[label] {
				if r.ok(p.n) && len(r.queue) > 0 {
					qs = append(qs, series{label, r.queue})
					break
				}
			}
		}
	}
	if len(qs) > 0 {
		writeSVG(o.svg, name+"-queue.svg", plotSVG(title+": queue", "messages queued", qs))
	}
}

func writeSVG(dir, name, svg string) {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
		fatalf("%v", err)
	}
	logf("plot: %s", filepath.Join(dir, name))
}

func workloadOr(w string) string {
	if w == "" {
		return workloadRelay
	}
	return w
}

func repeat(o options, p point, label string, f func() result) []result {
	var rs []result
	for i := 0; i < o.runs; i++ {
		r := f()
		logRun(label, p, i, r)
		rs = append(rs, r)
	}
	return rs
}

// instrumentCheck runs one point (the first size and client count) with
// every generator × sink pair, straight into the sink and through
// Postfix, so the project's tools can be compared with Postfix's.
func instrumentCheck(o options, rep *report) {
	p := point{size: o.sizes[0], clients: o.clients[0], n: o.n}
	var rows []checkRow
	for _, via := range []string{"loopback", "postfix"} {
		for _, gen := range []string{genSmtpSource, genSmtpload} {
			for _, snk := range []string{sinkSmtpSink, sinkSmtpsink} {
				s := o.setup
				s.gen, s.sink = gen, snk
				label := via + " " + gen + "→" + snk
				rs := repeat(o, p, label, func() result {
					if via == "loopback" {
						return measure(s, nil, p)
					}
					return measure(s, &postfix{}, p)
				})
				rows = append(rows, checkRow{via: via, gen: gen, sink: snk, rs: rs})
			}
		}
	}
	rep.check(p, rows)
}

// diskCeiling runs diskbench with 1 and 20 writers in a spool file
// system like the runs'.
func diskCeiling(o options, rep *report) {
	files := 2000
	if o.quick {
		files = 500
	}
	writers := []int{1, 20}
	counts := make([]int, len(writers))
	for i, w := range writers {
		counts[i] = files * min(w, 4)
	}
	for i, line := range diskbench(o, 1024, writers, counts) {
		logf("disk: %s", line)
		rep.disk(writers[i], line)
	}
}

// diskbench runs the diskbench tool once per writer count, with
// counts[i] files of size bytes, in a fresh spool file system like the
// runs', and returns its output lines.
func diskbench(o options, size int, writers, counts []int) []string {
	dir, err := os.MkdirTemp(o.work, "relaybench-disk-")
	if err != nil {
		fatalf("%v", err)
	}
	defer atExit(func() { os.RemoveAll(dir) })()
	unmount, err := mountSpool(o.spool, dir)
	if err != nil {
		fatalf("spool file system: %v\n(a loop mount needs root and loop devices; -spoolfs none puts the spools in -workdir instead)", err)
	}
	defer unmount()
	var lines []string
	for i, w := range writers {
		out, err := exec.Command(o.bin+"/diskbench", "-dir", filepath.Join(dir, "spool"), "-writers", strconv.Itoa(w),
			"-n", strconv.Itoa(counts[i]), "-size", strconv.Itoa(size)).CombinedOutput()
		if err != nil {
			fatalf("diskbench: %v\n%s", err, out)
		}
		lines = append(lines, strings.TrimSpace(string(out)))
	}
	return lines
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "relaybench: "+format+"\n", args...)
}

func logRun(label string, p point, i int, r result) {
	status := "ok"
	if r.err != nil {
		status = "FAILED: " + r.err.Error()
	}
	helpers := ""
	if r.helpMsg > 0 {
		helpers = fmt.Sprintf(" (helpers %.3f)", r.helpMsg)
	}
	conns := ""
	if r.maxConns > 0 {
		conns = fmt.Sprintf(" max conns to one destination %d", r.maxConns)
	}
	logf("%s size=%d clients=%d n=%d run %d: accept %.0f/s relay %.0f/s cpu %.3f ms/msg%s peak %.1f MiB sink %d dups %d%s — %s",
		label, p.size, p.clients, p.n, i+1, r.accept, r.relay, r.cpuMsg, helpers, r.peakMiB, r.received, r.dups, conns, status)
}
