package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Scenario 20c: POST /api/reload is moonpost reload over the API: it
// needs the token, answers what was applied and what needs a restart,
// and still answers when the reload moves the HTTP listener it came in
// on, which then serves on the new address.
func TestT20ReloadOverHTTP(t *testing.T) {
	d, base := httpDaemon(t)
	if code, _ := httpDo(t, "POST", base+"/api/reload", "", false); code != 401 {
		t.Fatalf("reload without the token: %d", code)
	}
	newAddr := freePort(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(httpToken+"\n"), 0o600)
	conf := fmt.Sprintf("log_level = \"debug\"\n[smtpd]\nheader_size_limit = 200000\n[http]\nlisten = [%q]\ntoken_file = %q\n", newAddr, tokenFile)
	if err := os.WriteFile(d.cfg, []byte(baseConfig(d, "\n"+conf)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := httpDo(t, "POST", base+"/api/reload", "", true)
	if code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	var res struct{ Applied, Restart []string }
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	applied, restart := strings.Join(res.Applied, ","), strings.Join(res.Restart, ",")
	if !strings.Contains(applied, "log_level") || !strings.Contains(applied, "http.listen") || restart != "smtpd.header_size_limit" {
		t.Errorf("applied %q, restart %q", applied, restart)
	}
	if code, body := httpDo(t, "GET", "http://"+newAddr+"/api/status", "", true); code != 200 || !strings.Contains(body, `"listeners"`) {
		t.Errorf("status on the new address: %d %s", code, body)
	}
	os.WriteFile(d.cfg, []byte(baseConfig(d, "\n"+conf+"no_such_key = 1\n")), 0o600)
	if code, body := httpDo(t, "POST", "http://"+newAddr+"/api/reload", "", true); code != 422 || !strings.Contains(body, "no_such_key") {
		t.Errorf("reload of a bad file: %d %s", code, body)
	}
}
