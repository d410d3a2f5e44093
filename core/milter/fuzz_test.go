package milter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/queue"
)

// FuzzEdits: whatever header edits and reply a milter sends, the result
// parses, keeps the fields it did not touch, and no value starts a field
// of its own.
func FuzzEdits(f *testing.F) {
	f.Add(byte('h'), "X-Spam", "Yes", uint32(0), 554, "5.7.1 Spam")
	f.Add(byte('i'), "DKIM-Signature", "v=1;\n\tb=abc", uint32(0), 451, "")
	f.Add(byte('m'), "Subject", "a\r\nBcc: victim@example.com", uint32(1), 250, "x")
	f.Add(byte('m'), "X-Old", "", uint32(2), 999, "\n")
	f.Fuzz(func(t *testing.T, code byte, name, value string, index uint32, reply int, text string) {
		replyStatus(reply, text)
		var h textproto.Header
		h.Add("X-Keep", "kept")
		h.Add("Subject", "hello")
		msg := &message{env: &queue.Envelope{}, h: &h}
		c := map[byte]gomilter.ModifyActCode{'h': gomilter.ActAddHeader, 'i': gomilter.ActInsertHeader}[code%2+'h']
		if code%3 == 0 {
			c = gomilter.ActChangeHeader
		}
		err := apply(msg, []gomilter.ModifyAction{{Code: c, HeaderName: name, HeaderValue: value, HeaderIndex: index}})
		if err != nil {
			return
		}
		if !h.Has("X-Keep") {
			t.Fatalf("lost a field: %v", h)
		}
		if strings.EqualFold(name, "Bcc") {
			return
		}
		if h.Has("Bcc") {
			t.Fatalf("injected a field: %q %q", name, value)
		}
	})
}

// FuzzDataReply: whatever a milter answers to the DATA event, the reply
// is an action or an error, and a reply code keeps its three digits.
func FuzzDataReply(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01c"))
	f.Add([]byte("\x00\x00\x00\x15y554 5.7.1 no thanks\x00"))
	f.Add([]byte("\x00\x00\x00\x01p\x00\x00\x00\x01r"))
	f.Add([]byte("\xff\xff\xff\xffy"))
	f.Add([]byte("\x00\x00\x00\x06y-12 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, data, err := readPacket(bytes.NewReader(b))
		if err != nil {
			return
		}
		act, err := parseReply(code, data)
		if err != nil {
			return
		}
		if act.Code == gomilter.ActReplyCode && (act.SMTPCode < 0 || act.SMTPCode > 999) {
			t.Fatalf("reply code %d from %q", act.SMTPCode, b)
		}
		replyStatus(act.SMTPCode, act.SMTPText)
	})
}
