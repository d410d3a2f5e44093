package auth

import (
	"strings"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"

	"github.com/moonpost/moonpost/core/policy"
)

// Stamp implements cleanup.Verifier: it removes every
// Authentication-Results field that claims our authserv-id (a forgery,
// or a stale one from an earlier pass; RFC 8601 section 5) and adds one
// with res on top.
func (v *Verifier) Stamp(h *textproto.Header, res *policy.AuthResults) {
	RemoveForged(h, v.AuthservID)
	h.Add("Authentication-Results", FormatResults(v.AuthservID, res))
}

// RemoveForged deletes the Authentication-Results fields whose
// authserv-id is id (compared without case). A field that does not parse
// is judged by its first word, so a garbled forgery goes too.
func RemoveForged(h *textproto.Header, id string) {
	fields := h.FieldsByKey("Authentication-Results")
	for fields.Next() {
		if strings.EqualFold(ServID(fields.Value()), id) {
			fields.Del()
		}
	}
}

// ServID is the authserv-id of an Authentication-Results value: the
// first token, before any ";" or comment or space.
func ServID(v string) string {
	if id, _, err := authres.Parse(v); err == nil {
		return strings.TrimSpace(id)
	}
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "; \t(\r\n"); i >= 0 {
		v = v[:i]
	}
	return v
}

// FormatResults writes the value of our Authentication-Results field.
func FormatResults(id string, res *policy.AuthResults) string {
	var rs []authres.Result
	if res.SPF != "" {
		rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(res.SPF), From: res.SPFDomain})
	}
	if res.SPFHelo != "" {
		rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(res.SPFHelo), Helo: res.Helo})
	}
	if len(res.DKIM) == 0 {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range res.DKIM {
		p := map[string]string{}
		if d.Domain != "" {
			p["header.d"] = d.Domain
		}
		if d.Selector != "" {
			p["header.s"] = d.Selector
		}
		rs = append(rs, &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(d.Result), Params: p})
	}
	if res.ARC != "" && res.ARC != "none" {
		rs = append(rs, &authres.GenericResult{Method: "arc", Value: authres.ResultValue(res.ARC), Params: map[string]string{}})
	}
	if res.DMARC.Result != "" {
		rs = append(rs, &authres.DMARCResult{Value: authres.ResultValue(res.DMARC.Result), From: res.DMARC.Domain})
	}
	// Format leaves a space after a result without properties.
	return strings.TrimSpace(strings.ReplaceAll(authres.Format(id, rs), " ;", ";"))
}
