package milter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/queue"
)

// TestLiveBDATData: a version 6 milter refusing the DATA event refuses
// the first BDAT chunk, there being no DATA command; the chunks the
// client pipelined after it get the same reply, nothing is queued, and
// the connection goes on in step.
func TestLiveBDATData(t *testing.T) {
	addr, _ := v6Milter(t, "554 5.7.1 No DATA from you")
	ls := startLive(t, Config{Address: addr})
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	one := "Subject: chunked\r\n\r\n" + strings.Repeat("in two chunks\r\n", 10000)
	two := "the end\r\n"
	c.c.Write([]byte(fmt.Sprintf("BDAT %d\r\n%sBDAT %d LAST\r\n%s", len(one), one, len(two), two)))
	for i := 1; i <= 2; i++ {
		if r := c.reply(); r != "554 5.7.1 No DATA from you" {
			t.Fatalf("BDAT chunk %d: %q", i, r)
		}
	}
	c.want("NOOP", "250 ")
	c.want("QUIT", "221 ")
	if n := count(t, ls.clean, queue.Incoming); n != 0 {
		t.Errorf("%d queued", n)
	}
}
