package config

import (
	"strings"
	"testing"
)

// The outbound client's keys: defaults as Postfix's, bad values named.
func TestSMTPClientKeys(t *testing.T) {
	c, err := Load(write(t, "[smtp]\nline_length_limit = 0\nmx_session_limit = 3"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMTP
	if s.LineLengthLimit != 0 || s.MXSessionLimit != 3 || s.MXAddressLimit != 5 || s.LMTPTLS != "none" {
		t.Errorf("smtp = %+v", s)
	}
	if d := Default().SMTP; d.LineLengthLimit != 998 || d.MXSessionLimit != 2 {
		t.Errorf("defaults = %+v", d)
	}
	for body, want := range map[string]string{
		"[smtp]\nline_length_limit = 10": "smtp.line_length_limit",
		"[smtp]\nmx_session_limit = -1":  "smtp.mx_session_limit",
		"[smtp]\nlmtp_tls = \"always\"":  "smtp.lmtp_tls",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want mention of %q", body, err, want)
		}
	}
}
