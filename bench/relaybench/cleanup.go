package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// cleanups is the stack of undo actions: every process started and every
// temporary directory made registers one, and they run in reverse order
// on the normal exit, on a fatal error and on SIGINT/SIGTERM, so no
// Postfix master, daemon or sink outlives the benchmark.
var cleanups struct {
	mu   sync.Mutex
	fns  []func()
	done bool // runCleanups has run: what registers now is undone at once
}

// atExit registers f and returns a function that runs it early (once).
// Once the cleanups have run (a signal arrived while a run went on), f
// runs at once: the mount or process it undoes would outlive the exit.
func atExit(f func()) (runNow func()) {
	var once sync.Once
	g := func() { once.Do(f) }
	cleanups.mu.Lock()
	late := cleanups.done
	if !late {
		cleanups.fns = append(cleanups.fns, g)
	}
	cleanups.mu.Unlock()
	if late {
		g()
	}
	return g
}

// runCleanups runs every registered undo action, newest first.
func runCleanups() {
	cleanups.mu.Lock()
	fns := cleanups.fns
	cleanups.fns, cleanups.done = nil, true
	cleanups.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// handleSignals cleans up and exits on SIGINT, SIGTERM or SIGHUP.
func handleSignals() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "relaybench: %v: stopping everything\n", s)
		runCleanups()
		os.Exit(130)
	}()
}

// fatalf reports an error, cleans up and exits.
func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "relaybench: "+format+"\n", args...)
	runCleanups()
	os.Exit(1)
}
