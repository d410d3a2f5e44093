package milter

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/queue"
)

// field is one header field: its name and its raw line(s), CRLF ended.
type field struct {
	key string
	raw []byte
}

// apply makes one milter's edits to the message, in the order sent.
// Header indexes refer to the header as that milter saw it, as in
// Sendmail: header edits are gathered on a list of fields and the header
// is rebuilt once at the end.
func apply(msg *message, edits []gomilter.ModifyAction) error {
	fields := fieldsOf(msg.h)
	var body []byte
	replaced := false
	for _, e := range edits {
		if isHeaderEdit(e.Code) && !validName(e.HeaderName) {
			return fmt.Errorf("bad header name %q", e.HeaderName)
		}
		switch e.Code {
		case gomilter.ActAddHeader:
			fields = append(fields, newField(e.HeaderName, e.HeaderValue))
		case gomilter.ActInsertHeader:
			fields = insertField(fields, int(e.HeaderIndex), newField(e.HeaderName, e.HeaderValue))
		case gomilter.ActChangeHeader:
			fields = changeField(fields, e.HeaderName, int(e.HeaderIndex), e.HeaderValue)
		case gomilter.ActReplBody:
			body, replaced = append(body, e.Body...), true
		default:
			applyEnvelope(msg.env, e)
		}
	}
	h, err := rebuild(fields)
	if err != nil {
		return err
	}
	*msg.h = h
	if replaced {
		msg.body = toCRLF(body)
	}
	return nil
}

func isHeaderEdit(c gomilter.ModifyActCode) bool {
	return c == gomilter.ActAddHeader || c == gomilter.ActInsertHeader || c == gomilter.ActChangeHeader
}

// validName is RFC 5322's field name: printable ASCII but the colon.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// applyEnvelope makes the envelope edits: recipients and sender.
func applyEnvelope(env *queue.Envelope, e gomilter.ModifyAction) {
	switch e.Code {
	case gomilter.ActAddRcpt:
		if a := bare(e.Rcpt); a != "" && !hasRcpt(env, a) {
			env.Recipients = append(env.Recipients, queue.Recipient{Addr: a})
		}
	case gomilter.ActDelRcpt:
		a := bare(e.Rcpt)
		out := env.Recipients[:0]
		for _, r := range env.Recipients {
			if !strings.EqualFold(r.Addr, a) {
				out = append(out, r)
			}
		}
		env.Recipients = out
	case gomilter.ActChangeFrom:
		env.Sender = bare(e.From)
	}
}

func hasRcpt(env *queue.Envelope, a string) bool {
	for _, r := range env.Recipients {
		if strings.EqualFold(r.Addr, a) {
			return true
		}
	}
	return false
}

// bare strips the angle brackets milters put around addresses.
func bare(a string) string {
	a = strings.TrimSpace(a)
	for len(a) >= 2 && a[0] == '<' && a[len(a)-1] == '>' {
		a = strings.TrimSpace(a[1 : len(a)-1])
	}
	return a
}

func fieldsOf(h *textproto.Header) []field {
	var out []field
	for f := h.Fields(); f.Next(); {
		raw, err := f.Raw()
		if err != nil {
			raw = newField(f.Key(), f.Value()).raw
		}
		out = append(out, field{key: f.Key(), raw: append([]byte(nil), raw...)})
	}
	return out
}

// newField formats a field from a milter. The value's line breaks
// become CRLF, and a break not followed by white space is folded, so a
// value can never start a field of its own.
func newField(name, value string) field {
	value = strings.ReplaceAll(value, "\r\n", "\n")
	value = strings.ReplaceAll(value, "\r", "")
	lines := strings.Split(value, "\n")
	for i := 1; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], " ") && !strings.HasPrefix(lines[i], "\t") {
			lines[i] = " " + lines[i]
		}
	}
	sep := ": "
	if strings.HasPrefix(value, " ") || strings.HasPrefix(value, "\t") {
		sep = ":"
	}
	return field{key: name, raw: []byte(name + sep + strings.Join(lines, "\r\n") + "\r\n")}
}

// insertField puts f before the field at index (0: at the top).
func insertField(fs []field, index int, f field) []field {
	if index < 0 || index > len(fs) {
		index = len(fs)
	}
	return append(fs[:index], append([]field{f}, fs[index:]...)...)
}

// changeField changes the index-th (from 1) field called name; an empty
// value deletes it. A field that does not exist is added, as Sendmail
// does, unless the change is a deletion.
func changeField(fs []field, name string, index int, value string) []field {
	n := 0
	for i, f := range fs {
		if !strings.EqualFold(f.key, name) {
			continue
		}
		if n++; n != index {
			continue
		}
		if value == "" {
			return append(fs[:i], fs[i+1:]...)
		}
		fs[i] = newField(f.key, value)
		return fs
	}
	if value == "" {
		return fs
	}
	return append(fs, newField(name, value))
}

// rebuild parses the fields back into a header.
func rebuild(fs []field) (textproto.Header, error) {
	var b bytes.Buffer
	for _, f := range fs {
		b.Write(f.raw)
	}
	b.WriteString("\r\n")
	h, err := textproto.ReadHeader(bufio.NewReader(&b))
	if err != nil {
		return h, fmt.Errorf("header after edits does not parse: %w", err)
	}
	return h, nil
}

// toCRLF turns bare LF and bare CR line ends into CRLF.
func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/32)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}
