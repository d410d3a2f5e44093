package smtpd

import (
	"strings"
	"testing"
)

func TestRelayControl(t *testing.T) {
	relay, _ := NewDomainSet("relayed.example")
	untrusted := startServer(t, func(c *Config) { c.RelayDomains = relay })
	trusted := startServer(t, func(c *Config) { c.RelayDomains = relay; c.MyNetworks = loopback })
	cases := []struct {
		rcpt            string
		untrusted, mine string // reply prefixes
	}{
		{"<u@local.example>", "250 ", "250 "},
		{"<u@LOCAL.example.>", "250 ", "250 "},
		{"<u@relayed.example>", "250 ", "250 "},
		{"<u@remote.example>", "554 5.7.1", "250 "},
		{"<u%remote.example@local.example>", "250 ", "250 "},      // domain is authoritative
		{"<remote.example!u@local.example>", "250 ", "250 "},      // so is it for bang paths
		{"<u@remote.example@local.example>", "250 ", "250 "},      // a quoted '@' in effect
		{"<u@local.example@remote.example>", "554 5.7.1", "250 "}, // last '@' wins
		{"<\"u@local.example\"@remote.example>", "554 5.7.1", "250 "},
		{"<@local.example:u@remote.example>", "554 5.7.1", "250 "}, // source route ignored
		{"<@remote.example,@x.example:u@local.example>", "250 ", "250 "},
		{"<u@[127.0.0.1]>", "554 5.7.1", "250 "}, // literals are not local unless configured
		{"<u@local.example.remote.example>", "554 5.7.1", "250 "},
		{"<u@xn--bcher-kva.example>", "554 5.7.1", "250 "},
	}
	for _, c := range cases {
		t.Run(c.rcpt, func(t *testing.T) {
			for _, side := range []struct {
				ts   *testServer
				want string
			}{{untrusted, c.untrusted}, {trusted, c.mine}} {
				cl := dialReady(t, side.ts.smtp)
				cl.cmd("MAIL FROM:<a@remote.example>").expect("250 ")
				cl.cmd("RCPT TO:" + c.rcpt).expect(side.want)
			}
		})
	}
	if logs := untrusted.logs.String(); !strings.Contains(logs,
		"NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <u@remote.example>: Relay access denied; from=<a@remote.example> to=<u@remote.example> proto=ESMTP helo=<client.example>") {
		t.Errorf("reject log line missing:\n%s", logs)
	}
}

func TestRelayIDNAndLiterals(t *testing.T) {
	local, _ := NewDomainSet("bücher.example", "[192.0.2.1]")
	ts := startServer(t, func(c *Config) { c.LocalDomains = local })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@remote.example> SMTPUTF8").expect("250 ")
	cl.cmd("RCPT TO:<u@BÜCHER.example>").expect("250 ")
	cl.cmd("RCPT TO:<u@xn--bcher-kva.example>").expect("250 ")
	cl.cmd("RCPT TO:<u@[192.0.2.1]>").expect("250 ")
	cl.cmd("RCPT TO:<u@[192.0.2.2]>").expect("554 5.7.1")
	// Without SMTPUTF8 a UTF-8 domain is a syntax error.
	cl.cmd("RSET").expect("250 ")
	cl.cmd("MAIL FROM:<a@remote.example>").expect("250 ")
	cl.cmd("RCPT TO:<u@bücher.example>").expect("501 5.1.3")
}

func TestRelayAfterAuth(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = staticAuth{user: "alice", pass: "secret"}
	})
	cl := dialReady(t, ts.subm).startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").expect("235 ")
	cl.cmd("MAIL FROM:<alice@local.example>").expect("250 ")
	cl.cmd("RCPT TO:<bob@remote.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("x\r\n.\r\n")
	cl.expect("250 2.0.0 Ok: queued")
	envs, content := ts.sub.calls()
	if env := envs[0]; env.Client.Proto != "ESMTPSA" || env.Client.AuthUser != "alice" {
		t.Errorf("client %+v", env.Client)
	}
	if !strings.Contains(content[0], "with ESMTPSA id") {
		t.Errorf("Received: %q", content[0])
	}
}
