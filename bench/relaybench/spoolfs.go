package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Spool file systems (-spoolfs). A production mail server keeps its
// queue on a file system of its own; the benchmark gives each run a
// fresh one, the same for Postfix and moonpost: an ext4 image file in
// -workdir, loop-mounted at the run's spool directory. A fresh file
// system per run also means no run inherits another's fragmentation.
const (
	spoolShared    = "none"           // the spool is a directory of -workdir's file system
	spoolExt4      = "ext4"           // mkfs.ext4's defaults (with a journal)
	spoolExt4NoJnl = "ext4-nojournal" // ext4 without a journal
)

// spoolImageSize is the image's size; it is sparse, so only what the
// run writes takes disk. 20,000 messages of 20 KiB queued at once
// (Postfix's worst case) take about 500 MiB; the million and large
// workloads raise it, and spoolInodes (0: mkfs's default, one inode per
// 16 KiB) for a million small files.
var (
	spoolImageSize int64 = 2 << 30
	spoolInodes    int
)

// spoolFor makes the spool's image big enough for n small queued
// messages, room and inodes (two per message for Postfix: the queue file
// and its defer/ log), and returns the function that puts the sizes
// back. A queue of 1 KiB messages takes up to 12 KiB a message on disk.
func spoolFor(n int) (restore func()) {
	savedSize, savedInodes := spoolImageSize, spoolInodes
	spoolImageSize = max(spoolImageSize, int64(n)*12<<10+(1<<30))
	if inodes := 2*n + n/2 + 20000; int64(inodes) > spoolImageSize/(16<<10) {
		spoolInodes = inodes // above mkfs's default, one per 16 KiB
	}
	return func() { spoolImageSize, spoolInodes = savedSize, savedInodes }
}

// mkfsArgs are mkfs.ext4's options for a kind: inode tables and journal
// initialised now, so no background initialisation writes during the
// run; no discard of the fresh (sparse) image.
func mkfsArgs(kind string) ([]string, error) {
	args := []string{"-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard"}
	if spoolInodes > 0 {
		args = append(args, "-N", strconv.Itoa(spoolInodes))
	}
	switch kind {
	case spoolExt4:
		return args, nil
	case spoolExt4NoJnl:
		return append(args, "-O", "^has_journal"), nil
	}
	return nil, fmt.Errorf("unknown -spoolfs %q (%s, %s, %s)", kind, spoolExt4NoJnl, spoolExt4, spoolShared)
}

// mountSpool makes a fresh file system of the kind and mounts it at
// dir/spool (created). The returned function unmounts it; it is also
// registered to run at exit. For spoolShared it only creates the
// directory.
func mountSpool(kind, dir string) (unmount func(), err error) {
	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return nil, err
	}
	if kind == spoolShared {
		return func() {}, nil
	}
	args, err := mkfsArgs(kind)
	if err != nil {
		return nil, err
	}
	img := filepath.Join(dir, "spool.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		return nil, err
	}
	if err := os.Truncate(img, spoolImageSize); err != nil {
		return nil, err
	}
	if err := command("mkfs.ext4", append(args, img)...); err != nil {
		return nil, err
	}
	if err := command("mount", "-o", "loop", img, spool); err != nil {
		return nil, err
	}
	unmount = atExit(func() {
		// The MTA has stopped; a lingering reference only delays.
		for i := 0; i < 50; i++ {
			if exec.Command("umount", spool).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := command("umount", "-l", spool); err != nil {
			logf("cannot unmount %s: %v", spool, err)
		}
	})
	// mkfs's lost+found is not part of any queue.
	os.Remove(filepath.Join(spool, "lost+found"))
	return unmount, nil
}

// spoolFSName describes the spool file system for the report.
func spoolFSName(kind, work string) string {
	where := strings.TrimSpace(output("findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", work))
	switch kind {
	case spoolShared:
		return "a directory of " + work + " (" + where + "), shared with the rest of the system"
	case spoolExt4NoJnl:
		return fmt.Sprintf("a fresh ext4 without a journal per run (mkfs.ext4 -O ^has_journal, %d GiB sparse image loop-mounted at the spool) on %s (%s)", spoolImageSize>>30, work, where)
	}
	return fmt.Sprintf("a fresh ext4 per run (mkfs.ext4 defaults, with a journal; %d GiB sparse image loop-mounted at the spool) on %s (%s)", spoolImageSize>>30, work, where)
}
