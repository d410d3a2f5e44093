package main

import (
	"os"
	"os/exec"
	"path/filepath"
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
	dir, err := os.MkdirTemp(o.work, "relaybench-disk-")
	if err != nil {
		fatalf("%v", err)
	}
	defer atExit(func() { os.RemoveAll(dir) })()
	unmount, err := mountSpool(o.spool, dir)
	if err != nil {
		fatalf("spool file system: %v", err)
	}
	defer unmount()
	var out []diskRate
	for _, w := range []int{1, clients} {
		files := max(min(n, 50), w) // enough to time, not a second copy of the run
		b, err := exec.Command(o.bin+"/diskbench", "-dir", filepath.Join(dir, "spool"), "-writers", strconv.Itoa(w),
			"-n", strconv.Itoa(files), "-size", strconv.Itoa(size)).CombinedOutput()
		if err != nil {
			fatalf("diskbench: %v\n%s", err, b)
		}
		line := strings.TrimSpace(string(b))
		var r float64 // files/s
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "rate="); ok {
				r, _ = strconv.ParseFloat(v, 64)
			}
		}
		out = append(out, diskRate{writers: w, mibs: r * float64(size) / (1 << 20), line: line})
		logf("disk, %s files: %s", sizeName(size), line)
	}
	return out
}
