package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report prints the markdown report section by section on stdout, as
// the run goes, and keeps it for -o.
type report struct {
	b          strings.Builder
	tableShown bool
}

func (r *report) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.b.WriteString(s)
	os.Stdout.WriteString(s)
}

// flush writes the whole report to path (if any).
func (r *report) flush(path string) {
	if path == "" {
		return
	}
	if err := os.WriteFile(path, []byte(r.b.String()), 0o644); err != nil {
		fatalf("%v", err)
	}
}

// machine describes where and how the benchmark ran.
func (r *report) machine(o options) {
	r.printf("## Relay benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	r.printf("- machine: %d CPUs (%s), %s memory, kernel %s\n", runtime.NumCPU(),
		firstLine("/proc/cpuinfo", "model name"), memTotal(), strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")))
	r.printf("- spool file system: %s\n", spoolFSName(o.spool, o.work))
	r.printf("- Postfix %s, %s\n", output("postconf", "-d", "-h", "mail_version"), runtime.Version())
	if len(o.workloads) > 1 {
		r.printf("- workloads %s; N=%d messages per run (million: %d, large: %d of %s), %d run(s) per point, generator %s, sink %s\n\n",
			strings.Join(o.workloads, ", "), o.n, o.millionN, o.largeN, sizeName(o.largeSize), o.runs, o.gen, o.sink)
		return
	}
	w := o.workloads[0]
	switch w {
	case workloadMillion:
		r.printf("- workload %s; N=%d, %d run(s)\n\n", workloadName(w), o.millionN, o.runs)
	case workloadLarge:
		r.printf("- workload %s; %d messages of %s per run, %d run(s), generator %s, sink %s\n\n", workloadName(w), o.largeN, sizeName(o.largeSize), o.runs, o.gen, o.sink)
	default:
		r.printf("- workload %s; N=%d messages per run, %d run(s) per point, generator %s, sink %s\n\n", workloadName(w), o.n, o.runs, o.gen, o.sink)
	}
}

// section starts one workload's part of a report of several.
func (r *report) section(o options) {
	r.printf("### Workload %s\n\n", workloadName(o.workload))
	r.tableShown = false
}

// largeDisk reports the durable-write ceiling for the large workload's
// file size.
func (r *report) largeDisk(size int, rates []diskRate) {
	r.printf("Durable-write ceiling for %s files (write + fsync + rename, in a spool file system like the runs'):\n\n", sizeName(size))
	for _, d := range rates {
		r.printf("- %d writer(s): %.1f MiB/s (%s)\n", d.writers, d.mibs, d.line)
	}
	r.printf("\n")
}

// large reports each MTA's relay rate in MiB/s against the ceiling.
func (r *report) large(p point, mtas []string, rows map[string][]result, ceil []diskRate) {
	best := 0.0
	for _, d := range ceil {
		best = max(best, d.mibs)
	}
	r.printf("\nRelayed MiB/s (relay msg/s × %s)", sizeName(p.size))
	if best > 0 {
		r.printf(" against the disk's best durable-write ceiling for that size, %.1f MiB/s", best)
	}
	r.printf("; peak PSS as in the table:\n\n")
	for _, name := range mtas {
		v := values(rows[name], p.n, relayOf)
		if len(v) == 0 {
			r.printf("- %s: failed\n", name)
			continue
		}
		mibs := median(v) * float64(p.size) / (1 << 20)
		r.printf("- %s: %.1f MiB/s", name, mibs)
		if best > 0 {
			r.printf(" (%.0f %% of the ceiling)", mibs/best*100)
		}
		r.printf(", peak PSS %s MiB\n", cell(rows[name], p.n, "%.0f", memOf))
	}
	r.printf("\n")
}

// million reports the million workload: one row per MTA, medians over
// the runs.
func (r *report) million(n int, mtas []string, rows map[string][]millionResult) {
	r.printf("A deferred queue of %d messages. Listing: `moonpost queue list` (read from the spool) and `postqueue -p` (through Postfix's showq), wall time and the client's peak RSS (VmHWM), with the MTA's peak PSS meanwhile; REPL: `moonpost repl -e 'return #queue.list{}'` (a table of every entry, under the default 10 s chunk deadline) and `return queue.list({}, function(e) end)` (streaming, with `-timeout 1h`), inside the daemon (its peak PSS); start: from the exec of the MTA (`postfix start` for Postfix) to the 250 of a message; memory: the MTA's peak PSS from its start to %v, and its PSS then (idle). moonpost's queue is filled with bench/queuefill, Postfix's over SMTP with its relay host down (the first %d; the rest are copies of their queue files, renamed by postsuper -s).\n\n", n, idleAfter, min(n, postfixSeed))
	r.printf("| | fill s | list s | list RSS MiB | MTA PSS during list MiB | REPL queue.list{} s / daemon PSS MiB | REPL queue.list({}, fn) s / daemon PSS MiB | start → 250 s (target ≤ 5) | PSS peak / idle MiB |\n")
	r.printf("|---|---|---|---|---|---|---|---|---|\n")
	for _, name := range mtas {
		var ok []millionResult
		var failed []string
		for _, x := range rows[name] {
			// (moonpost lists the message its start test sent, too.)
			if x.err == nil && x.listed >= n {
				ok = append(ok, x)
			} else if x.err != nil {
				failed = append(failed, firstLineOf(x.err.Error()))
			} else {
				failed = append(failed, fmt.Sprintf("listed %d of %d", x.listed, n))
			}
		}
		if len(ok) == 0 {
			r.printf("| %s | failed: %s | | | | | | | |\n", name, strings.Join(failed, "; "))
			continue
		}
		med := func(f func(millionResult) float64) string {
			var v []float64
			for _, x := range ok {
				v = append(v, f(x))
			}
			slices.Sort(v)
			if len(v) == 1 {
				return fmt.Sprintf("%.2f", v[0])
			}
			return fmt.Sprintf("%.2f (%.2f–%.2f)", median(v), v[0], v[len(v)-1])
		}
		repl, stream := "–", "–"
		if name != "postfix" {
			repl = med(func(x millionResult) float64 { return x.replS }) + " / " + med(func(x millionResult) float64 { return x.replPeak })
			if e := ok[0].replErr; e != "" {
				repl = "failed: " + e
			}
			stream = med(func(x millionResult) float64 { return x.streamS }) + " / " + med(func(x millionResult) float64 { return x.streamPeak })
			if e := ok[0].streamErr; e != "" {
				stream = "failed: " + e
			}
		}
		r.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", name,
			med(func(x millionResult) float64 { return x.fill }), med(func(x millionResult) float64 { return x.listS }),
			med(func(x millionResult) float64 { return x.listRSS }), med(func(x millionResult) float64 { return x.listPeak }),
			repl, stream, med(func(x millionResult) float64 { return x.startS }),
			med(func(x millionResult) float64 { return x.startPeak }), med(func(x millionResult) float64 { return x.idle }))
	}
	r.printf("\n")
}

// disk reports one line of diskbench.
func (r *report) disk(writers int, line string) {
	if writers == 1 {
		r.printf("Durable-write ceiling (write + fsync + rename of 1 KiB files, in a spool file system like the runs'):\n\n")
	}
	r.printf("- %d writer(s): %s\n", writers, line)
	if writers != 1 {
		r.printf("\n")
	}
}

// point adds one matrix point's rows to the table.
func (r *report) point(p point, mtas []string, rows map[string][]result) {
	if !r.tableShown {
		r.printf("Cells: median (min–max) over the runs. Rates in messages/s (fanout relay: recipients/s; tarpit relay: the other destinations' messages/s); CPU in ms of the MTA's processes per message; latency from the end of DATA to its 250 as the generator saw it, p50 / p99 in ms.\n\n")
		r.printf("| size | clients | | accept msg/s | relay msg/s | CPU ms/msg | peak PSS MiB | latency p50 / p99 ms | sink count |\n")
		r.printf("|---|---|---|---|---|---|---|---|---|\n")
		r.tableShown = true
	}
	where := fmt.Sprintf("%s | %d", sizeName(p.size), p.clients)
	if rs, ok := rows["loopback"]; ok {
		r.printf("| %s | loopback ceiling | %s | %s | – | – | %s / %s | %s |\n", where,
			cell(rs, p.n, "%.0f", acceptOf), cell(rs, p.n, "%.0f", relayOf),
			cell(rs, p.n, "%.2f", p50Of), cell(rs, p.n, "%.2f", p99Of), counts(rs, p.n))
		where = " | "
	}
	for _, name := range mtas {
		rs := rows[name]
		r.printf("| %s | %s | %s | %s | %s | %s | %s / %s | %s |\n", where, name,
			cell(rs, p.n, "%.0f", acceptOf), cell(rs, p.n, "%.0f", relayOf),
			cell(rs, p.n, "%.3f", cpuOf), cell(rs, p.n, "%.0f", memOf),
			cell(rs, p.n, "%.2f", p50Of), cell(rs, p.n, "%.2f", p99Of), counts(rs, p.n))
		where = " | "
	}
	if len(mtas) == 2 {
		a, b := rows[mtas[1]], rows[mtas[0]]
		r.printf("| %s | %s / %s | %s | %s | %s | %s | | |\n", where, mtas[1], mtas[0],
			ratio(a, b, p.n, acceptOf), ratio(a, b, p.n, relayOf), ratio(a, b, p.n, cpuOf), ratio(a, b, p.n, memOf))
	}
}

// tarpit says, per MTA, how much the tarpit slowed the other 19
// destinations: their relay rate with it over the rate without.
func (r *report) tarpit(p point, mtas []string, rows map[string][]result) {
	r.printf("\nThe other %d destinations with a tarpit among them, relay rate against the run without (target: within 10 %%):\n\n", tarpitDomains-1)
	for _, name := range mtas {
		r.printf("- %s: %s\n", name, ratio(rows[name+" (tarpit)"], rows[name], p.n, relayOf))
	}
	r.printf("\n")
}

// checkRow is one instrument pair of the instrument check.
type checkRow struct {
	via, gen, sink string
	rs             []result
}

func (r *report) check(p point, rows []checkRow) {
	r.printf("Instrument check: %s messages, %d clients, N=%d.\n\n", sizeName(p.size), p.clients, p.n)
	r.printf("| path | generator | sink | accept msg/s | relay msg/s | sink count |\n|---|---|---|---|---|---|\n")
	for _, c := range rows {
		r.printf("| %s | %s | %s | %s | %s | %s |\n", c.via, c.gen, c.sink,
			cell(c.rs, p.n, "%.0f", acceptOf), cell(c.rs, p.n, "%.0f", relayOf), counts(c.rs, p.n))
	}
	r.printf("\n")
}

func acceptOf(r result) float64 { return r.accept }
func relayOf(r result) float64  { return r.relay }
func cpuOf(r result) float64    { return r.cpuMsg }
func memOf(r result) float64    { return r.peakMiB }
func p50Of(r result) float64    { return r.p50 }
func p99Of(r result) float64    { return r.p99 }

func workloadName(w string) string {
	switch w {
	case workloadTLS:
		return "tls (STARTTLS on both hops, TLS 1.3, one certificate for every server)"
	case workloadFanout:
		return fmt.Sprintf("fanout (%d recipients a message over %d domains, each domain its own next hop; relay rate in recipients/s)", fanoutRcpts, fanoutDomains)
	case workloadRecovery:
		return fmt.Sprintf("recovery (N messages to %d domains, each its own next hop, injected while every next hop is down, then the receivers come back and the MTA is flushed; accept: injection msg/s; relay: drain msg/s from the flush; CPU and memory of the drain)", recoveryDomains)
	case workloadMillion:
		return "million (a deferred queue of -million messages: listing it, starting with it, the memory it costs)"
	case workloadLarge:
		return "large (-large messages of -large-size bytes relayed; MiB/s against the disk's durable-write ceiling for that size; peak memory)"
	case workloadTarpit:
		return fmt.Sprintf("tarpit (%d domains, each its own next hop; d0's sink answers every command after %v; relay rate of the other %d)", tarpitDomains, tarpitDelay, tarpitDomains-1)
	}
	return "relay (plain SMTP)"
}

// values returns metric f of the clean runs, sorted.
func values(rs []result, n int, f func(result) float64) []float64 {
	var v []float64
	for _, r := range rs {
		if r.ok(n) {
			v = append(v, f(r))
		}
	}
	slices.Sort(v)
	return v
}

func median(v []float64) float64 {
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// cell is "median (min–max)", or the value of a single run.
func cell(rs []result, n int, format string, f func(result) float64) string {
	v := values(rs, n, f)
	switch len(v) {
	case 0:
		return "failed"
	case 1:
		return fmt.Sprintf(format, v[0])
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", median(v), v[0], v[len(v)-1])
}

// ratio is the ratio of the medians of a and b.
func ratio(a, b []result, n int, f func(result) float64) string {
	va, vb := values(a, n, f), values(b, n, f)
	if len(va) == 0 || len(vb) == 0 || median(vb) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", median(va)/median(vb))
}

// counts is "N ×runs" when every run delivered N exactly once, else
// each run's count and duplicates.
func counts(rs []result, n int) string {
	var bad []string
	for _, r := range rs {
		if !r.ok(n) {
			bad = append(bad, fmt.Sprintf("%d (dups %d) FAILED", r.received, r.dups))
		}
	}
	if len(bad) == 0 {
		if len(rs) > 0 && rs[0].want > 0 {
			n = rs[0].want
		}
		return fmt.Sprintf("%d ×%d", n, len(rs))
	}
	return strings.Join(bad, "; ")
}

func sizeName(size int) string {
	if size%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	if size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func firstLine(path, key string) string {
	for _, l := range strings.Split(readFile(path), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func memTotal() string {
	var kb int64
	fmt.Sscanf(firstLine("/proc/meminfo", "MemTotal"), "%d", &kb)
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
