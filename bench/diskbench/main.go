// Command diskbench measures the durable-write ceiling of a filesystem:
// how many small files per second W concurrent writers can commit the
// way a queue does — write a temporary file, fsync it, rename it into
// place (and with -dirsync, fsync the directory too). It prints
// "files=N writers=W seconds=S rate=R files/s" and removes its files.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the filesystem to measure")
	writers := flag.Int("writers", 1, "concurrent writers")
	n := flag.Int("n", 2000, "files to commit in all")
	size := flag.Int("size", 1024, "bytes per file")
	dirsync := flag.Bool("dirsync", false, "also fsync the directory after each rename")
	flag.Parse()
	work, err := os.MkdirTemp(*dir, "diskbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "diskbench:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(work)
	data := make([]byte, *size)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := next.Add(1) - 1; k < int64(*n); k = next.Add(1) - 1 {
				if err := commit(work, k, data, *dirsync); err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "diskbench:", err)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("files=%d writers=%d seconds=%.3f rate=%.1f files/s dirsync=%v\n",
		*n, *writers, el, float64(*n)/el, *dirsync)
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// commit writes one file durably: temporary name, fsync, rename.
func commit(dir string, k int64, data []byte, dirsync bool) error {
	final := filepath.Join(dir, fmt.Sprintf("f%08d", k))
	tmp := filepath.Join(dir, fmt.Sprintf(".f%08d.tmp", k))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if !dirsync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
