// Package durable writes small state files that must survive a crash
// whole or not at all: the MTA-STS policy cache and the TLS report
// counts.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces dir/name with data: a temporary file in dir,
// written and fsynced, renamed over the name, then the directory
// fsynced. A crash leaves the old file or the new one, never a part.
func WriteFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: a no-op
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, filepath.Base(name)))
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
