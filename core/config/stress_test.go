package config

import (
	"strings"
	"testing"
	"time"
)

func TestStressKeys(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMTPD
	if s.StressIdleTimeout.D() != 10*time.Second || s.StressSessionTimeout.D() != 120*time.Second ||
		s.ConnRateLimit != 0 || s.AuthFailRateLimit != 10 || s.RateTimeUnit.D() != time.Minute {
		t.Fatalf("stress defaults: %+v", s)
	}
	if c.LimitExceptions() != nil {
		t.Fatalf("unset exceptions = %v, want nil (mynetworks)", c.LimitExceptions())
	}

	c, err = Load(write(t, `
[smtpd]
stress_idle_timeout = "5s"
stress_session_timeout = "1m"
client_connection_rate_limit = 30
client_auth_failure_rate_limit = 0
anvil_rate_time_unit = "2m"
client_event_limit_exceptions = []
`))
	if err != nil {
		t.Fatal(err)
	}
	s = c.SMTPD
	if s.StressIdleTimeout.D() != 5*time.Second || s.StressSessionTimeout.D() != time.Minute ||
		s.ConnRateLimit != 30 || s.AuthFailRateLimit != 0 || s.RateTimeUnit.D() != 2*time.Minute {
		t.Fatalf("stress keys: %+v", s)
	}
	if ex := c.LimitExceptions(); ex == nil || len(ex) != 0 {
		t.Fatalf("exceptions [] = %#v, want empty, not nil", ex)
	}

	c, err = Load(write(t, "[smtpd]\nclient_event_limit_exceptions = [\"192.0.2.0/24\", \"2001:db8::1\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ex := c.LimitExceptions(); len(ex) != 2 || ex[1].Bits() != 128 {
		t.Fatalf("exceptions %v", ex)
	}

	_, err = Load(write(t, `
[smtpd]
client_connection_rate_limit = -1
stress_idle_timeout = "0s"
client_event_limit_exceptions = ["nonsense"]
`))
	for _, key := range []string{"smtpd.client_connection_rate_limit", "smtpd.stress_idle_timeout", "smtpd.client_event_limit_exceptions[0]"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}
