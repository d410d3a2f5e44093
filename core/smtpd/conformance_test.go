package smtpd

import (
	"fmt"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

// A second MAIL inside a transaction is refused and changes nothing:
// the first sender keeps its recipients.
func TestNestedMail(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<first@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.cmd("MAIL FROM:<second@b.example>").expect("503 5.5.1")
	cl.cmd("RCPT TO:<y@local.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: n\r\n\r\nx\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	envs, _ := ts.sub.calls()
	if len(envs) != 1 || envs[0].Sender != "first@b.example" || len(envs[0].Recipients) != 2 {
		t.Fatalf("envelopes %+v", envs)
	}
}

// ESMTP parameters need EHLO: after HELO they get 555 5.5.4.
func TestOptionsAfterHelo(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.smtp)
	cl.expect("220 ")
	cl.cmd("HELO client.example").expect("250 ")
	for _, opt := range []string{"SIZE=100", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=x"} {
		cl.cmd("MAIL FROM:<a@b.example> " + opt).expect("555 5.5.4")
	}
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example> NOTIFY=SUCCESS").expect("555 5.5.4")
	cl.cmd("RCPT TO:<x@local.example> ORCPT=rfc822;x@local.example").expect("555 5.5.4")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")

	// The same parameters after EHLO are fine.
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME RET=HDRS").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example> NOTIFY=SUCCESS").expect("250 ")
}

// TestSMTPDCodes pins smtpd's own replies.
func TestSMTPDCodes(t *testing.T) {
	want := map[*dsn.Status]string{
		nestedMail: "503 5.5.1", optionAfterHelo: "555 5.5.4", badBase64: "501 5.5.2",
		nulInCommand: "500 5.5.2", tooManyErrors: "421 4.7.0", noStorage: "452 4.3.1",
	}
	for st, w := range want {
		if got := fmt.Sprintf("%d %s", st.Code, st.Enhanced); got != w {
			t.Errorf("%q = %s, want %s", st.Text, got, w)
		}
	}
}
