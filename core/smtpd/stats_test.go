package smtpd

import (
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

// A real session's connection and rejections show in Stats under their
// stage and reason.
func TestStatsCountSessionsAndRejections(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@elsewhere.example>").expect("554 5.7.1")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.cmd("QUIT").expect("221 ")
	sub := dialReady(t, ts.subm)
	sub.cmd("MAIL FROM:<a@b.example>").expect("530 ")
	st := ts.srv.Stats()
	if st.Connections["smtp"] != 1 || st.Connections["submission"] != 1 {
		t.Errorf("connections %v", st.Connections)
	}
	if st.Active < 1 {
		t.Errorf("active %d with a session open", st.Active)
	}
	want := map[RejectKey]uint64{{"rcpt", "relay_denied"}: 1, {"mail", "auth_required"}: 1}
	for k, n := range want {
		if st.Rejects[k] != n {
			t.Errorf("rejects[%v] = %d, want %d (all: %v)", k, st.Rejects[k], n, st.Rejects)
		}
	}
	if len(st.Rejects) != len(want) {
		t.Errorf("rejects %v, want only %v", st.Rejects, want)
	}
}

func TestReasonOf(t *testing.T) {
	for _, tc := range []struct {
		stage string
		st    *dsn.Status
		want  string
	}{
		{"CONNECT", dsn.TooManyConns, "connection_limit"},
		{"CONNECT", dsn.TooManyFromHost, "client_limit"},
		{"RCPT", dsn.RelayDenied.WithText("<a@x>: " + dsn.RelayDenied.Text), "relay_denied"},
		{"RCPT", dsn.New(550, "5.1.1", "User unknown"), "unknown_recipient"},
		{"RCPT", dsn.New(550, "5.7.1", "go away"), "policy"},
		{"MAIL", dsn.TempPolicy, "policy_error"},
		{"MAIL", noStorage, "storage"},
		{"DATA", dsn.MessageTooBig, "size"},
		{"DATA", dsn.New(554, "5.6.0", "bad header"), "content"},
		{"SESSION", tooManyErrors, "error_limit"},
		{"AUTH", dsn.AuthFailed, "auth_failed"},
	} {
		if got := rejectReasons[reasonOf(tc.stage, tc.st)]; got != tc.want {
			t.Errorf("reasonOf(%s, %v) = %s, want %s", tc.stage, tc.st, got, tc.want)
		}
	}
}
