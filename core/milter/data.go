package milter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	gomilter "github.com/emersion/go-milter"
)

// go-milter's client has no call for the DATA event (SMFIC_DATA, protocol
// version 4 and later), which Postfix sends when the client says DATA.
// It is the protocol's smallest packet and its reply is one action, so
// it is written and read here, on the connection go-milter reads
// packet by packet without buffering.

// maxReply bounds the reply packet read for the DATA event.
const maxReply = 64 << 10

// data reports the DATA command. A milter that asked not to see it, or
// not to answer it, is told nothing or not waited for.
func (c *conv) data(msg *message) (*gomilter.Action, error) {
	cont := &gomilter.Action{Code: gomilter.ActContinue}
	if c.v2 || c.s.ProtocolOption(gomilter.OptNoData) {
		return cont, nil
	}
	if err := c.m.macros(c.s, gomilter.CodeData, msg); err != nil {
		return nil, err
	}
	conn := c.d.conn
	_ = conn.SetWriteDeadline(time.Now().Add(c.m.cfg.CommandTimeout))
	if _, err := conn.Write([]byte{0, 0, 0, 1, byte(gomilter.CodeData)}); err != nil {
		return nil, fmt.Errorf("milter: data: %w", err)
	}
	if c.s.ProtocolOption(gomilter.OptNoDataReply) {
		return cont, nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(c.m.cfg.CommandTimeout))
	defer conn.SetReadDeadline(time.Time{})
	for {
		code, payload, err := readPacket(conn)
		if err != nil {
			return nil, fmt.Errorf("milter: data: %w", err)
		}
		if code != 'p' { // progress: the milter is still thinking
			return parseReply(code, payload)
		}
	}
}

// readPacket reads one milter packet: a 32-bit length, a code, the data.
func readPacket(r io.Reader) (byte, []byte, error) {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return 0, nil, err
	}
	if n == 0 || n > maxReply {
		return 0, nil, fmt.Errorf("bad packet length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

// parseReply reads an event's answer: accept, continue, discard, reject,
// tempfail, or a reply code ("554 5.7.1 text", NUL ended).
func parseReply(code byte, data []byte) (*gomilter.Action, error) {
	act := &gomilter.Action{Code: gomilter.ActionCode(code)}
	switch act.Code {
	case gomilter.ActAccept, gomilter.ActContinue, gomilter.ActDiscard, gomilter.ActReject, gomilter.ActTempFail:
		return act, nil
	case gomilter.ActReplyCode:
		if len(data) < 4 || data[3] != ' ' || !digits(data[:3]) {
			return nil, errors.New("milter: data: malformed reply code")
		}
		n, _ := strconv.Atoi(string(data[:3]))
		text := data[4:]
		if i := indexNUL(text); i >= 0 {
			text = text[:i]
		}
		act.SMTPCode, act.SMTPText = n, string(text)
		return act, nil
	}
	return nil, fmt.Errorf("milter: data: unexpected reply %q", code)
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
