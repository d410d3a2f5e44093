package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat holds the fields of /proc/PID/stat the benchmark needs.
type procStat struct {
	ppid int
	// cpu is utime+stime+cutime+cstime in ticks: the process's own CPU
	// and that of the children it has reaped, so the CPU of Postfix
	// daemons that exited during the run stays counted in the master.
	cpu int64
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name may hold spaces; fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, false
	}
	// f[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
	ppid, _ := strconv.Atoi(f[1])
	var cpu int64
	for _, k := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		cpu += v
	}
	return procStat{ppid: ppid, cpu: cpu}, true
}

// tree returns root and all its descendants with their stats.
func tree(root int) map[int]procStat {
	all := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			all[pid] = st
		}
	}
	out := map[int]procStat{}
	for pid, st := range all {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = all[p].ppid, hops+1 {
			if p == root {
				out[pid] = st
				break
			}
		}
	}
	return out
}

// treeCPU is the CPU seconds used so far by root's process tree,
// including reaped children.
func treeCPU(root int) float64 {
	var ticks int64
	for _, st := range tree(root) {
		ticks += st.cpu
	}
	return float64(ticks) / clockTicks
}

// pss returns a process's proportional set size in bytes (falling back
// to RSS on kernels without smaps_rollup).
func pss(pid int) int64 {
	base := filepath.Join("/proc", strconv.Itoa(pid))
	if v := kbField(filepath.Join(base, "smaps_rollup"), "Pss:"); v >= 0 {
		return v << 10
	}
	return max(kbField(filepath.Join(base, "status"), "VmRSS:"), 0) << 10
}

// kbField reads "Name:  123 kB" from a /proc file; -1 when absent.
func kbField(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name); ok {
			v, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// memSampler records the peak of the summed PSS of a process tree,
// sampled every interval until stopped.
type memSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak int64
}

func sampleMemory(root func() int, every time.Duration) *memSampler {
	m := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.sample(root())
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) sample(root int) {
	if root <= 0 {
		return
	}
	var sum int64
	for pid := range tree(root) {
		sum += pss(pid)
	}
	m.mu.Lock()
	m.peak = max(m.peak, sum)
	m.mu.Unlock()
}

// Stop ends sampling and returns the peak in bytes.
func (m *memSampler) Stop() int64 {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}
