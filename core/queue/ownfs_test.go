package queue

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const sampleMountinfo = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
30 22 7:0 / /var/spool/moonpost rw,relatime shared:7 - ext4 /dev/loop0 rw
31 22 254:16 /spool /srv/bound rw,relatime - ext4 /dev/vdb rw
32 22 7:1 / /srv/twice rw - ext4 /dev/loop1 rw
33 22 7:1 / /mnt/again rw - ext4 /dev/loop1 rw
34 22 7:2 / /srv/with\040space rw - ext4 /dev/loop2 rw
35 22 7:3 / /srv/nested rw - ext4 /dev/loop3 rw
36 35 7:4 / /srv/nested/incoming rw - ext4 /dev/loop4 rw
37 22 7:5 / /srv/stacked rw - ext4 /dev/loop5 rw
38 37 0:40 / /srv/stacked rw - tmpfs tmpfs rw
39 22 254:0 /var/lib/x /srv/bindroot rw - ext4 /dev/vda rw
`

func TestOwnMount(t *testing.T) {
	cases := map[string]bool{
		"/var/spool/moonpost":   true,  // a whole file system, mounted once
		"/var/spool":            false, // not a mount point: shares /
		"/var/spool/moonpost/x": false, // below the mount point
		"/":                     false, // its device is mounted again at /srv/bindroot
		"/srv/bound":            false, // a bind mount of a subdirectory
		"/srv/twice":            false, // the device is mounted twice
		"/srv/with space":       true,  // octal escape in the mount point
		"/srv/nested":           false, // another file system below it
		"/srv/stacked":          true,  // the topmost mount (tmpfs) counts
	}
	for dir, want := range cases {
		if got := ownMount(strings.NewReader(sampleMountinfo), dir); got != want {
			t.Errorf("ownMount(%q) = %v, want %v", dir, got, want)
		}
	}
	if ownMount(strings.NewReader("garbage\n"), "/x") {
		t.Error("a malformed listing must answer false")
	}
	// The root file system, mounted once, still has /proc below it.
	if ownMount(strings.NewReader("22 1 254:0 / / rw - ext4 /dev/vda rw\n23 22 0:21 / /proc rw - proc proc rw\n"), "/") {
		t.Error("/ with another file system below it counted as its own")
	}
	// Odd escapes are kept as they are, never misread as a match.
	for _, point := range []string{`/srv/a\`, `/srv/a\9zz`, `/srv/a\777`, `/srv/a\04`} {
		line := "30 22 7:0 / " + point + " rw - ext4 /dev/loop0 rw\n"
		if !ownMount(strings.NewReader(line), point) || ownMount(strings.NewReader(line), "/srv/a") {
			t.Errorf("mount point %q misread", point)
		}
	}
}

func TestReleaseAtLeast(t *testing.T) {
	cases := map[string]bool{
		"6.18.44-fc-v595": true, "5.8.0": true, "5.10.0-28-amd64": true,
		"5.7.19": false, "4.19.0-26-amd64": false, "3.10.0-1160.el7.x86_64": false,
		"10.0": true, "5": false, "": false, "x.y": false,
	}
	for rel, want := range cases {
		if got := releaseAtLeast(rel, 5, 8); got != want {
			t.Errorf("releaseAtLeast(%q, 5, 8) = %v, want %v", rel, got, want)
		}
	}
}

func TestOwnFileSystemHere(t *testing.T) {
	// A temporary directory is a plain directory, not a mount point.
	if OwnFileSystem(t.TempDir()) {
		t.Error("a temporary directory counted as a file system of its own")
	}
	if OwnFileSystem(filepath.Join(t.TempDir(), "missing")) {
		t.Error("a missing directory counted as a file system of its own")
	}
}

// TestOwnFileSystemMounted mounts real file systems: a tmpfs as the
// spool counts as its own, and one more under a queue directory both
// spoils that and makes UseSyncfs refuse.
func TestOwnFileSystemMounted(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("SKIPPED LOUDLY: mounting a tmpfs needs root; the decision itself is covered by TestOwnMount")
	}
	spool := t.TempDir()
	if err := unix.Mount("tmpfs", spool, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(spool, unix.MNT_DETACH) })
	if !OwnFileSystem(spool) {
		t.Fatal("a tmpfs mounted at the spool is not counted as its own file system")
	}
	s, err := Open(spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UseSyncfs(); err != nil {
		t.Fatalf("UseSyncfs on a spool of its own: %v", err)
	}
	s.Close()

	incoming := filepath.Join(spool, string(Incoming))
	if err := unix.Mount("tmpfs", incoming, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(incoming, unix.MNT_DETACH) })
	if OwnFileSystem(spool) {
		t.Error("a spool with another file system under incoming/ counted as its own")
	}
	s, err = Open(spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.UseSyncfs(); err == nil {
		t.Error("UseSyncfs accepted a queue directory on another file system")
	}
}
