// Package systemd holds the systemd unit and the default configuration
// that "make install" installs, and their tests.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// install runs "make install PREFIX=dir" in the repository.
func install(t *testing.T, prefix string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("SKIP: make is not installed; cannot test make install")
	}
	cmd := exec.Command("make", "--no-print-directory", "-C", "../..", "install", "PREFIX="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
}

// TestMakeInstall installs into a temporary prefix: the binaries and the
// entry points, a configuration that checks, the docs, and a unit with
// the installed paths filled in. A second install keeps an edited
// configuration. Where systemd is available, the unit passes
// systemd-analyze verify (which also checks that ExecStart exists).
func TestMakeInstall(t *testing.T) {
	prefix := t.TempDir()
	install(t, prefix)
	for _, f := range []string{"bin/moonpost", "bin/mailq", "bin/newaliases", "sbin/sendmail"} {
		if st, err := os.Stat(filepath.Join(prefix, f)); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s: not an installed program (%v)", f, err)
		}
	}
	for _, f := range []string{"share/doc/moonpost/operations.md", "share/doc/moonpost/README.md"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("docs: %v", err)
		}
	}
	conf := filepath.Join(prefix, "etc/moonpost/moonpost.toml")
	if out, err := exec.Command(filepath.Join(prefix, "bin/moonpost"), "check", "-c", conf).CombinedOutput(); err != nil {
		t.Errorf("moonpost check of the installed configuration: %v\n%s", err, out)
	}
	unit := filepath.Join(prefix, "lib/systemd/system/moonpost.service")
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"Type=notify\n",
		"ExecStart=" + prefix + "/bin/moonpost -c " + conf + "\n",
		"ExecReload=" + prefix + "/bin/moonpost -c " + conf + " reload\n",
		"ProtectSystem=full\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "@") && strings.Contains(text, "DIR@") {
		t.Errorf("unit keeps a placeholder:\n%s", text)
	}

	os.WriteFile(conf, []byte("# edited\n"), 0o644)
	install(t, prefix)
	if b, _ := os.ReadFile(conf); string(b) != "# edited\n" {
		t.Errorf("a second install replaced the edited configuration: %q", b)
	}

	verify(t, unit)
}

// verify runs systemd-analyze verify on the unit; its complaints about
// the unit fail the test.
func verify(t *testing.T, unit string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("SKIP: systemd-analyze is not installed (Debian's systemd package); the unit is not verified")
	}
	out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), filepath.Base(unit)) {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}
