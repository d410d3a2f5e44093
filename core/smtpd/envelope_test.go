package smtpd

import (
	"testing"
)

func TestEnvelopeDSNFields(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example> RET=HDRS ENVID=QQ+2B314 BODY=8BITMIME SMTPUTF8 SIZE=100").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2Bold@local.example").expect("250 ")
	cl.cmd("RCPT TO:<y@local.example> NOTIFY=NEVER").expect("250 ")
	cl.cmd("RCPT TO:<ü@local.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("x\r\n.\r\n")
	cl.expect("250 ")
	envs, _ := ts.sub.calls()
	env := envs[0]
	if env.Ret != "HDRS" || env.EnvID != "QQ+314" || env.BodyType != "8BITMIME" || !env.SMTPUTF8 {
		t.Errorf("envelope %+v", env)
	}
	r := env.Recipients
	if r[0].Notify != "SUCCESS,FAILURE" || r[0].ORcpt != "RFC822;x+old@local.example" {
		t.Errorf("rcpt 0 %+v", r[0])
	}
	if r[1].Notify != "NEVER" || r[1].ORcpt != "" || r[2].Addr != "ü@local.example" {
		t.Errorf("rcpts %+v", r)
	}
	if env.Arrival.IsZero() || env.ID.Time().Unix() != env.Arrival.Unix() {
		t.Errorf("arrival %v, id %v", env.Arrival, env.ID)
	}
}

func TestHeloWithHELO(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.smtp)
	cl.expect("220 ")
	cl.cmd("HELO old.example").expect("250 ")
	cl.send("MAIL FROM:<>\r\nRCPT TO:<x@local.example>\r\nDATA\r\n")
	cl.expect("250 ")
	cl.expect("250 ")
	cl.expect("354 ")
	cl.send("x\r\n.\r\n")
	cl.expect("250 ")
	envs, content := ts.sub.calls()
	if envs[0].Client.Proto != "SMTP" || envs[0].Sender != "" {
		t.Errorf("envelope %+v", envs[0])
	}
	if want := "Received: from old.example (unknown [127.0.0.1])\r\n\tby mx.local.example (moonpost) with SMTP id "; content[0][:len(want)] != want {
		t.Errorf("Received: %q", content[0])
	}
}
