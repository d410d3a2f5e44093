package cleanup

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// addMissing adds the headers every message must have at the end of the
// header, as Postfix's cleanup does, and removes Bcc so blind recipients
// stay blind.
func (c *Cleanup) addMissing(env *queue.Envelope, h *textproto.Header) {
	h.Del("Bcc")
	h.Del("Resent-Bcc")
	var add []string
	if !h.Has("From") {
		from := env.Sender
		if from == "" {
			from = "MAILER-DAEMON@" + c.Hostname
		}
		if env.FullName != "" {
			add = append(add, "From: "+(&mail.Address{Name: env.FullName, Address: from}).String())
		} else {
			add = append(add, "From: <"+from+">")
		}
	}
	if !h.Has("Date") {
		add = append(add, "Date: "+env.Arrival.Format("Mon, 02 Jan 2006 15:04:05 -0700 (MST)"))
	}
	if !h.Has("Message-Id") {
		add = append(add, fmt.Sprintf("Message-ID: <%s.%s@%s>", env.Arrival.UTC().Format("20060102150405"), env.ID, c.Hostname))
	}
	if len(add) > 0 {
		appendFields(h, add...)
	}
}

// appendFields adds fields after the existing ones (go-message's Add
// would put them first).
func appendFields(h *textproto.Header, fields ...string) {
	var raws [][]byte
	for f := h.Fields(); f.Next(); {
		raw, err := f.Raw()
		if err != nil {
			raw = []byte(f.Key() + ": " + f.Value() + "\r\n")
		}
		raws = append(raws, raw)
	}
	for _, f := range fields {
		raws = append(raws, []byte(f+"\r\n"))
	}
	*h = build(raws)
}

// extractRecipients implements sendmail -t: To, Cc and Bcc (or their
// Resent- forms when present) become envelope recipients.
func extractRecipients(env *queue.Envelope, h *textproto.Header) {
	keys := []string{"To", "Cc", "Bcc"}
	if h.Has("Resent-To") || h.Has("Resent-Cc") || h.Has("Resent-Bcc") {
		keys = []string{"Resent-To", "Resent-Cc", "Resent-Bcc"}
	}
	seen := map[string]bool{}
	for _, r := range env.Recipients {
		seen[strings.ToLower(r.Addr)] = true
	}
	for _, k := range keys {
		for _, v := range h.Values(k) {
			for _, a := range parseList(v) {
				if a.Address != "" && !seen[strings.ToLower(a.Address)] {
					seen[strings.ToLower(a.Address)] = true
					env.Recipients = append(env.Recipients, queue.Recipient{Addr: a.Address, State: queue.Pending})
				}
			}
		}
	}
}

// parseList parses an address-list header value. Where net/mail refuses
// the whole list (local submitters write "bob, carol@example.com"), each
// comma-separated item is parsed alone, and a bare token is taken as an
// address. Items that still do not parse are skipped.
func parseList(v string) []*mail.Address {
	if list, err := mail.ParseAddressList(v); err == nil {
		return list
	}
	var out []*mail.Address
	for _, item := range splitList(v) {
		item = strings.TrimSpace(item)
		if a, err := mail.ParseAddress(item); err == nil {
			out = append(out, a)
		} else if item != "" && !strings.ContainsAny(item, " <>\"()") {
			out = append(out, &mail.Address{Address: item})
		}
	}
	return out
}

// splitList splits on commas outside quotes and angle brackets.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// addressHeaders are rewritten with the rewriter, as Postfix's
// cleanup rewrites sender and recipient headers.
var addressHeaders = map[string]string{
	"From": "sender", "Sender": "sender", "Reply-To": "sender", "Return-Receipt-To": "sender",
	"Errors-To": "sender", "Resent-From": "sender", "Resent-Sender": "sender",
	"To": "recipient", "Cc": "recipient", "Resent-To": "recipient", "Resent-Cc": "recipient",
}

// rewrite runs the rewriter over envelope and header addresses.
func (c *Cleanup) rewrite(ctx context.Context, env *queue.Envelope, h *textproto.Header) error {
	if c.Rewriter == nil {
		return nil
	}
	if env.Sender != "" {
		s, err := c.Rewriter.Rewrite(ctx, env.Sender, policy.AddrContext{Role: "sender", Where: "envelope"})
		if err != nil {
			return err
		}
		env.Sender = s
	}
	for i := range env.Recipients {
		r, err := c.Rewriter.Rewrite(ctx, env.Recipients[i].Addr, policy.AddrContext{Role: "recipient", Where: "envelope"})
		if err != nil {
			return err
		}
		env.Recipients[i].Addr = r
	}
	return c.rewriteHeaders(ctx, h)
}

func (c *Cleanup) rewriteHeaders(ctx context.Context, h *textproto.Header) error {
	var out [][]byte
	changed := false
	for f := h.Fields(); f.Next(); {
		raw, err := f.Raw()
		if err != nil {
			return err
		}
		role, ok := addressHeaders[f.Key()]
		if ok {
			nv, err := c.rewriteList(ctx, f.Value(), policy.AddrContext{Role: role, Where: "header", Header: f.Key()})
			if err != nil {
				return err
			}
			if nv != f.Value() {
				raw, changed = []byte(f.Key()+": "+nv+"\r\n"), true
			}
		}
		out = append(out, raw)
	}
	if changed {
		*h = build(out)
	}
	return nil
}

// rewriteList rewrites each address of one header value. A value that
// does not parse is left exactly as it was.
func (c *Cleanup) rewriteList(ctx context.Context, v string, ac policy.AddrContext) (string, error) {
	list := parseList(v)
	changed := false
	for _, a := range list {
		na, err := c.Rewriter.Rewrite(ctx, a.Address, ac)
		if err != nil {
			return v, err
		}
		if na != a.Address {
			a.Address, changed = na, true
		}
	}
	if !changed {
		return v, nil
	}
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", "), nil
}
