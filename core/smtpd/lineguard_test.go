package smtpd

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

func TestLineGuard(t *testing.T) {
	long := strings.Repeat("x", 600)
	cases := []struct {
		name  string
		steps []string // "<" reads, ">" replies written
		fail  bool
	}{
		{"short commands", []string{"<EHLO a\r\nMAIL FROM:<a@b>\r\n"}, false},
		{"long command", []string{"<MAIL FROM:<" + long + "@b>\r\n"}, true},
		{"long command over two reads", []string{"<MAIL FROM:<" + long[:300], "<" + long[300:] + "@b>\r\n"}, true},
		{"long data line", []string{">354 go", "<" + long + long + "\r\n.\r\n"}, false},
		{"long line after data", []string{">354 go", "<short\r\n.\r\n", ">250 ok", "<" + long + "\r\n"}, true},
		{"bdat chunk", []string{"<BDAT 1205 LAST\r\n" + long + long + "\r\n" + "\r\n", "<QUIT\r\n"}, false},
		{"bdat then long command", []string{"<BDAT 3\r\nabcMAIL FROM:<" + long + ">\r\n"}, true},
	}
	for _, c := range cases {
		g := &lineGuard{limit: 512}
		var err error
		for _, s := range c.steps {
			if s[0] == '>' {
				g.reply([]byte(s[1:]))
				continue
			}
			if err = g.scan([]byte(s[1:])); err != nil {
				break
			}
		}
		if got := errors.Is(err, smtp.ErrTooLongLine); got != c.fail {
			t.Errorf("%s: err = %v, want failure %v", c.name, err, c.fail)
		}
	}
}
