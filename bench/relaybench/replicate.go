package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// postfixSeed (-postfix-seed) is how many messages a large Postfix
// queue is filled with over SMTP before the rest are copies of them: at
// 200–250 messages a second, a million over SMTP would take over an hour.
var postfixSeed = 20000

// replicateDeferred grows a stopped Postfix's deferred queue to n
// files: copies of the seed queue files already there (contents, owner,
// mode, and the access and modification times that hold each one's next
// attempt), under names no queue file has, then `postsuper -s`, which
// renames each to match its inode and moves it to its hash directory,
// the repair Postfix documents for a queue restored from backup. The
// copies have no defer/ log, as a queue restored without one.
func replicateDeferred(etc, spool string, n int) error {
	var seeds []string
	root := filepath.Join(spool, "deferred")
	if err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			seeds = append(seeds, path)
		}
		return err
	}); err != nil {
		return err
	}
	if len(seeds) == 0 {
		return fmt.Errorf("no deferred queue file to copy under %s", root)
	}
	type seed struct {
		data         []byte
		uid, gid     int
		mode         fs.FileMode
		atime, mtime time.Time
	}
	read := make([]seed, len(seeds))
	for i, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		read[i] = seed{data, int(st.Uid), int(st.Gid), fi.Mode().Perm(),
			time.Unix(st.Atim.Sec, st.Atim.Nsec), time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
	}
	// One directory for all copies; postsuper -s moves each to its hash
	// directory. Queue IDs are hexadecimal here (no long queue IDs), so
	// the names, "F" and eleven hex digits, are valid and unused.
	dir := filepath.Join(root, "F")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(root, "0")); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		os.Chown(dir, int(st.Uid), int(st.Gid))
	}
	for i := len(seeds); i < n; i++ {
		s := read[i%len(read)]
		p := filepath.Join(dir, fmt.Sprintf("F%011X", i))
		if err := os.WriteFile(p, s.data, s.mode); err != nil {
			return err
		}
		if err := os.Chown(p, s.uid, s.gid); err != nil {
			return err
		}
		if err := os.Chmod(p, s.mode); err != nil {
			return err
		}
		if err := os.Chtimes(p, s.atime, s.mtime); err != nil {
			return err
		}
	}
	// postsuper logs to maillog_file itself when Postfix is stopped,
	// as the postfix user; the file postlogd made is root's.
	if err := exec.Command("chown", "postfix", filepath.Join(filepath.Dir(etc), "maillog")).Run(); err != nil {
		return fmt.Errorf("chown maillog: %v", err)
	}
	if out, err := exec.Command("postsuper", "-c", etc, "-s").CombinedOutput(); err != nil {
		return fmt.Errorf("postsuper -s: %v\n%s", err, tail(string(out), 10))
	}
	return nil
}
