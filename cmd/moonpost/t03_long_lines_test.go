package main

import (
	"fmt"
	"strings"
	"testing"
)

// Scenario 3d: a message with a 1 MB line, accepted by smtpd, is relayed
// with its lines folded at 998 octets (smtp.line_length_limit), so a
// receiver that enforces RFC 5321's line limit takes it; removing the
// inserted CRLF SPACE gives the content back.
func TestT03LongLinesFoldedOnRelay(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"", s.port()))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	long := strings.Repeat("0123456789", 100_000)
	body := "Subject: t03d\r\n\r\nshort\r\n" + long + "\r\nend"
	if code, text := c.message("alice@local.test", []string{"bob@remote.test"}, body); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	got := waitSink(t, d, s, 1)[0].Data
	for i, line := range strings.Split(got, "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d arrived with %d octets", i, len(line))
		}
	}
	if !strings.Contains(strings.ReplaceAll(got, "\r\n ", ""), "\r\nshort\r\n"+long+"\r\nend") {
		t.Errorf("content changed beyond folding (%d octets arrived)", len(got))
	}
}
