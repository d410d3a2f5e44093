package milter

import (
	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/queue"
)

// message is what the conversations are about: the envelope and header
// cleanup holds (changed in place by each milter's edits) and the body.
type message struct {
	env      *queue.Envelope
	h        *textproto.Header
	body     []byte
	hostname string
	rcpt     string // the recipient of the RCPT being sent
}

// macro is one macro moonpost can send: the stage it is sent at and its
// value.
type macro struct {
	stage gomilter.Code
	value func(*message) string
}

// macros is the table of macros moonpost knows, with Postfix's names.
var macros = map[string]macro{
	"j":             {gomilter.CodeConn, func(m *message) string { return m.hostname }},
	"{daemon_name}": {gomilter.CodeConn, func(*message) string { return "moonpost" }},
	"v":             {gomilter.CodeConn, func(*message) string { return "moonpost" }},
	"_": {gomilter.CodeConn, func(m *message) string {
		return clientName(m.env) + " [" + orString(m.env.Client.Addr, "127.0.0.1") + "]"
	}},
	"{client_addr}": {gomilter.CodeConn, func(m *message) string { return m.env.Client.Addr }},
	"{client_name}": {gomilter.CodeConn, func(m *message) string { return clientName(m.env) }},
	"{client_ptr}":  {gomilter.CodeConn, func(m *message) string { return clientName(m.env) }},
	"{auth_authen}": {gomilter.CodeMail, func(m *message) string { return m.env.Client.AuthUser }},
	"{mail_addr}":   {gomilter.CodeMail, func(m *message) string { return m.env.Sender }},
	"i":             {gomilter.CodeMail, func(m *message) string { return string(m.env.ID) }},
	"{rcpt_addr}":   {gomilter.CodeRcpt, func(m *message) string { return m.rcpt }},
}

// DefaultMacros are sent when a milter's macros are not configured.
var DefaultMacros = []string{"j", "{daemon_name}", "v", "_", "{client_addr}", "{client_name}",
	"{client_ptr}", "{auth_authen}", "{mail_addr}", "i", "{rcpt_addr}"}

// KnownMacro reports whether name is a macro moonpost can send.
func KnownMacro(name string) bool {
	_, ok := macros[name]
	return ok
}

// macros sends the configured macros of stage; the queue ID ("i") is
// sent again at end of header and end of message, where milters such as
// rspamd and OpenDKIM read it.
func (m *milter) macros(s *gomilter.ClientSession, stage gomilter.Code, msg *message) error {
	var kv []string
	for _, name := range m.cfg.Macros {
		mc, ok := macros[name]
		if !ok {
			continue
		}
		again := name == "i" && (stage == gomilter.CodeEOH || stage == gomilter.CodeEOB)
		if mc.stage != stage && !again {
			continue
		}
		if v := mc.value(msg); v != "" {
			kv = append(kv, name, v)
		}
	}
	if len(kv) == 0 {
		return nil
	}
	return s.Macros(stage, kv...)
}
