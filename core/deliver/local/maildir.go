package local

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/moonpost/moonpost/core/deliver/internal/mailcopy"
)

// maildirSeq makes names unique within this process; the pid and time
// make them unique across processes.
var maildirSeq atomic.Uint64

// maildirName builds "<sec>.M<usec>P<pid>Q<seq>.<host>", the modern
// Maildir unique name. "/" and ":" in the host are escaped as the
// Maildir spec asks, since they would break the path or the info suffix.
func maildirName(host string, now time.Time) string {
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000,
		os.Getpid(), maildirSeq.Add(1), host)
}

// writeMaildir stores msg in the Maildir dir: write and fsync in tmp/,
// rename into new/, fsync new/. Only then has the message been
// delivered; on any failure the tmp/ file is removed. The final name
// carries the size (",S=") so readers can skip a stat.
func writeMaildir(dir, host string, msg io.Reader) (err error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	name := maildirName(host, time.Now())
	tmp := filepath.Join(dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	n, err := mailcopy.Copy(f, msg, mailcopy.Options{LF: true})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	final := filepath.Join(dir, "new", fmt.Sprintf("%s,S=%d", name, n))
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(filepath.Join(dir, "new"))
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
