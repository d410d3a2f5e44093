package queue

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// OwnFileSystem reports whether dir is the mount point of a whole file
// system that nothing else shares: mounted once, at dir, from its root,
// with nothing mounted below dir. That is where syncfs(2) is the right
// group commit for the spool (queue.sync = "auto"): it then flushes the
// spool's writes and no one else's, and covers every queue directory.
// Any doubt (no /proc, a bind mount, a subvolume, a second mount of the
// same device) answers false, which keeps fsync per file.
func OwnFileSystem(dir string) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	if real, err = filepath.Abs(real); err != nil {
		return false
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	return ownMount(f, real)
}

// ownMount is OwnFileSystem's decision over a mountinfo(5) listing, for
// an absolute, symlink-free dir.
func ownMount(r io.Reader, dir string) bool {
	type mount struct{ dev, root string }
	var at *mount // the topmost mount at dir
	devs := map[string]int{}
	below := false
	under := strings.TrimSuffix(dir, "/") + "/" // "/" for the root itself
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// ID parentID major:minor root mountpoint options ... - type source super
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			return false
		}
		dev, root, point := f[2], unescapeMount(f[3]), unescapeMount(f[4])
		devs[dev]++
		switch {
		case point == dir:
			at = &mount{dev: dev, root: root}
		case strings.HasPrefix(point, under):
			below = true
		}
	}
	if sc.Err() != nil || at == nil || below {
		return false
	}
	return at.root == "/" && devs[at.dev] == 1
}

// SyncfsReportsErrors reports whether this kernel's syncfs(2) returns
// the file system's write-back errors (Linux 5.8 and later). Before
// that, a failed write under a syncfs went unreported, and a commit
// could be acknowledged without being on disk; queue.sync = "auto"
// keeps fsync there.
func SyncfsReportsErrors() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
}

// releaseAtLeast reports whether a kernel release such as "6.1.0-13"
// is major.minor or later.
func releaseAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
