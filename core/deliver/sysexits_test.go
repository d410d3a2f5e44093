package deliver

import "testing"

// TestExitStatusTable pins every entry against Postfix sys_exits.c.
func TestExitStatusTable(t *testing.T) {
	cases := []struct {
		code     int
		smtp     int
		enhanced string
		temp     bool
		text     string
	}{
		{0, 250, "2.0.0", false, "delivered via command"},
		{64, 554, "5.3.0", false, "command line usage error"},
		{65, 554, "5.6.0", false, "data format error"},
		{66, 554, "5.3.0", false, "cannot open input"},
		{67, 550, "5.1.1", false, "user unknown"},
		{68, 550, "5.1.2", false, "host name unknown"},
		{69, 554, "5.3.0", false, "service unavailable"},
		{70, 554, "5.3.0", false, "internal software error"},
		{71, 451, "4.3.0", true, "system resource problem"},
		{72, 554, "5.3.0", false, "critical OS file missing"},
		{73, 554, "5.2.0", false, "can't create user output file"},
		{74, 554, "5.3.0", false, "input/output error"},
		{75, 451, "4.3.0", true, "temporary failure"},
		{76, 554, "5.5.0", false, "remote error in protocol"},
		{77, 550, "5.7.0", false, "permission denied"},
		{78, 554, "5.3.5", false, "local configuration error"},
		{1, 451, "4.3.0", true, "unknown mail system error 1"},
		{2, 451, "4.3.0", true, "unknown mail system error 2"},
		{63, 451, "4.3.0", true, "unknown mail system error 63"},
		{79, 451, "4.3.0", true, "unknown mail system error 79"},
		{126, 451, "4.3.0", true, "unknown mail system error 126"},
		{127, 451, "4.3.0", true, "unknown mail system error 127"},
		{255, 451, "4.3.0", true, "unknown mail system error 255"},
	}
	for _, c := range cases {
		st := ExitStatus(c.code)
		if st.Code != c.smtp || st.Enhanced.String() != c.enhanced || st.Temporary() != c.temp || st.Text != c.text {
			t.Errorf("exit %d = %v (temp=%v), want %d %s %q temp=%v", c.code, st, st.Temporary(), c.smtp, c.enhanced, c.text, c.temp)
		}
	}
	if len(sysExits) != 16 {
		t.Errorf("table has %d entries, want 16 (0 and 64..78)", len(sysExits))
	}
	for code, st := range sysExits {
		if st.Enhanced[0] != st.Code/100 {
			t.Errorf("exit %d: %v: classes disagree", code, st)
		}
	}
}
