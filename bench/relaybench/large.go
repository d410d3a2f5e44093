package main

import (
	"strconv"
	"strings"
)

// The large workload (issue 20, workload 7): -large messages of
// -large-size bytes (200 of 10 MiB by default) relayed through each MTA
// to the sink, as the relay workload does with small ones; the report
// gives the relay rate in MiB/s beside the disk's durable-write ceiling
// for files of that size, and the peak memory, which must not grow with
// the message. Both MTAs' message size limits are raised alike (to
// twice the size plus 1 MiB): their defaults, 10240000 bytes, are below
// 10 MiB.
const workloadLarge = "large"

// diskRate is the durable-write ceiling for one writer count.
type diskRate struct {
	writers int
	mibs    float64 // MiB/s
	line    string  // diskbench's output
}

func large(o options, rep *report) {
	size, n := o.largeSize, o.largeN
	saved := spoolImageSize
	defer func() { spoolImageSize = saved }()
	// Everything queued at once (Postfix's worst case) must fit.
	spoolImageSize = max(spoolImageSize, int64(n)*int64(size)*3/2+(1<<30))
	o.sizeLimit = int64(size)*2 + 1<<20
	c := min(o.clients[0], n)
	if !o.noCeil {
		o.largeCeil = largeCeiling(o, size, n, c)
		rep.largeDisk(size, o.largeCeil)
	}
	o.sizes, o.clients, o.n = []int{size}, []int{c}, n
	matrix(o, rep)
}

// largeCeiling runs diskbench with files of the workload's size, with 1
// writer and with as many as the load has clients.
func largeCeiling(o options, size, n, clients int) []diskRate {
	writers := []int{1, clients}
	counts := make([]int, len(writers))
	for i, w := range writers {
		counts[i] = max(min(n, 50), w) // enough to time, not a second copy of the run
	}
	var out []diskRate
	for i, line := range diskbench(o, size, writers, counts) {
		var r float64 // files/s
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "rate="); ok {
				r, _ = strconv.ParseFloat(v, 64)
			}
		}
		out = append(out, diskRate{writers: writers[i], mibs: r * float64(size) / (1 << 20), line: line})
		logf("disk, %s files: %s", sizeName(size), line)
	}
	return out
}
