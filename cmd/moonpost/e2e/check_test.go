package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// TestCheckReportsScriptErrors: `moonpost check` fails with the file and
// line of a broken script, and `status` shows the same error.
func TestCheckReportsScriptErrors(t *testing.T) {
	d := e2e.Setup(t, "testdata/reload")
	if code, out := d.Run("check"); code != 0 {
		t.Fatalf("good scripts: %d %s", code, out)
	}
	writeScript(t, d, fmt.Sprintf(brokenScript, "bad"), true)
	code, out := d.Run("check")
	if code == 0 || !strings.Contains(out, "50-version.lua:") {
		t.Errorf("check on a broken script: %d %s", code, out)
	}
	code, out = d.Run("status")
	if code == 0 || !strings.Contains(out, "last error:  50-version.lua:") {
		t.Errorf("status on a broken script: %d %s", code, out)
	}
}
