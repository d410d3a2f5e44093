package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// parseStatus reads the status part: a per-message group, then one group
// per recipient, groups separated by blank lines.
func (rep *Report) parseStatus(body []byte) error {
	groups, err := readGroups(body)
	if err != nil {
		return err
	}
	if len(groups) < 2 {
		return errors.New("dsn: delivery-status part has no recipient fields")
	}
	if rep.Message, err = parseMessageGroup(groups[0]); err != nil {
		return err
	}
	for i, g := range groups[1:] {
		r, err := parseRecipientGroup(g)
		if err != nil {
			return fmt.Errorf("dsn: recipient %d: %w", i, err)
		}
		rep.Recipients = append(rep.Recipients, r)
	}
	return nil
}

// readGroups splits body into header-like groups, unfolding fields. A
// field name seen twice in a group is an error: RFC 3464 allows each
// field once, and a duplicate is how an injection would show.
func readGroups(body []byte) ([]map[string]string, error) {
	br := bufio.NewReader(bytes.NewReader(body))
	var groups []map[string]string
	for {
		if err := skipBlankLines(br); err == io.EOF {
			return groups, nil
		} else if err != nil {
			return nil, err
		}
		h, err := textproto.ReadHeader(br)
		if err != nil {
			return nil, fmt.Errorf("dsn: delivery-status fields: %w", err)
		}
		g := make(map[string]string)
		for f := h.Fields(); f.Next(); {
			if _, dup := g[f.Key()]; dup {
				return nil, fmt.Errorf("dsn: field %s repeated in one group", f.Key())
			}
			g[f.Key()] = f.Value()
		}
		groups = append(groups, g)
	}
}

// skipBlankLines consumes empty lines; it returns io.EOF at the end.
func skipBlankLines(br *bufio.Reader) error {
	for {
		c, err := br.Peek(1)
		if err != nil {
			return err
		}
		if c[0] != '\r' && c[0] != '\n' {
			return nil
		}
		line, _, err := br.ReadLine()
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return fmt.Errorf("dsn: malformed line %q in delivery-status part", line)
		}
	}
}

func parseMessageGroup(g map[string]string) (ReportMessage, error) {
	m := ReportMessage{Fields: g, EnvID: g["Original-Envelope-Id"], QueueID: g["X-Moonpost-Queue-Id"]}
	var err error
	if m.ReportingMTA, err = parseTyped(g["Reporting-Mta"]); err != nil {
		return m, fmt.Errorf("dsn: Reporting-MTA: %w", err)
	}
	if m.Arrival, err = parseDate(g["Arrival-Date"]); err != nil {
		return m, fmt.Errorf("dsn: Arrival-Date: %w", err)
	}
	return m, nil
}

func parseRecipientGroup(g map[string]string) (ReportRecipient, error) {
	r := ReportRecipient{Fields: g, Action: strings.ToLower(g["Action"])}
	var err error
	if r.Final, err = parseTyped(g["Final-Recipient"]); err != nil {
		return r, fmt.Errorf("Final-Recipient: %w", err)
	}
	if !validAction(r.Action) {
		return r, fmt.Errorf("Action %q is not an RFC 3464 action", g["Action"])
	}
	st, ok := ParseEnhanced(g["Status"])
	if !ok {
		return r, fmt.Errorf("Status %q is not a status code", g["Status"])
	}
	r.Status = st
	for _, f := range []struct {
		name string
		dst  *Typed
	}{{"Original-Recipient", &r.Original}, {"Remote-Mta", &r.RemoteMTA}, {"Diagnostic-Code", &r.Diagnostic}} {
		if v, ok := g[f.name]; ok {
			if *f.dst, err = parseTyped(v); err != nil {
				return r, fmt.Errorf("%s: %w", f.name, err)
			}
		}
	}
	if r.LastAttempt, err = parseDate(g["Last-Attempt-Date"]); err != nil {
		return r, fmt.Errorf("Last-Attempt-Date: %w", err)
	}
	if r.WillRetryUntil, err = parseDate(g["Will-Retry-Until"]); err != nil {
		return r, fmt.Errorf("Will-Retry-Until: %w", err)
	}
	return r, nil
}

// parseTyped splits "type; value"; both halves are required.
func parseTyped(v string) (Typed, error) {
	typ, val, ok := strings.Cut(v, ";")
	typ, val = strings.ToLower(strings.TrimSpace(typ)), strings.TrimSpace(val)
	if !ok || !isTypeToken(typ) || val == "" {
		return Typed{}, fmt.Errorf("%q is not \"type; value\"", v)
	}
	if typ == "utf-8" {
		dec, err := decodeUTF8Addr(val)
		if err != nil {
			return Typed{}, err
		}
		val = dec
	}
	return Typed{Type: typ, Value: val}, nil
}

// decodeUTF8Addr undoes encodeUTF8Addr: \x{HEX} becomes the code point.
func decodeUTF8Addr(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated \\x{ in %q", s)
		}
		cp, err := strconv.ParseUint(s[i+3:i+end], 16, 32)
		if err != nil || end-3 < 1 || end-3 > 6 || cp > 0x10FFFF {
			return "", fmt.Errorf("bad \\x{} escape in %q", s)
		}
		b.WriteRune(rune(cp))
		s = s[i+end+1:]
	}
}

// parseDate reads an RFC 5322 date; "" gives the zero time.
func parseDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return mail.ParseDate(v)
}
