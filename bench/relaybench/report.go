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
	r.printf("- workload %s; N=%d messages per run, %d run(s) per point, generator %s, sink %s\n\n", workloadName(o.workload), o.n, o.runs, o.gen, o.sink)
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
		r.printf("Cells: median (min–max) over the runs. Rates in messages/s; CPU in ms of the MTA's processes per message; latency from the end of DATA to its 250 as the generator saw it, p50 / p99 in ms.\n\n")
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
	if w == workloadTLS {
		return "tls (STARTTLS on both hops, TLS 1.3, one certificate for every server)"
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
		return fmt.Sprintf("%d ×%d", n, len(rs))
	}
	return strings.Join(bad, "; ")
}

func sizeName(size int) string {
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
