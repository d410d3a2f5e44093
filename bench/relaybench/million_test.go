package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// The listing's RSS is the child's own peak, not the parent's size at
// the fork (what wait4's ru_maxrss reports on Linux): a child started
// by a parent holding 128 MiB reports its own few MiB.
func TestSampleHWMIsTheChilds(t *testing.T) {
	ballast := make([]byte, 128<<20)
	for i := range ballast {
		ballast[i] = 1 // resident, not just reserved
	}
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hwm := sampleHWM(cmd.Process.Pid)
	time.Sleep(100 * time.Millisecond) // a reading or two of the exec'd child
	kib := hwm()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if kib <= 0 || kib > 32<<10 {
		t.Fatalf("sleep's peak RSS read as %d KiB (the parent holds %d MiB)", kib, len(ballast)>>20)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.Logf("VmHWM %d KiB; wait4's ru_maxrss %d KiB", kib, ru.Maxrss)
	}
	_ = ballast[len(ballast)-1]
}
