package httpapi

import (
	"testing"

	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/smtpd"
)

// FuzzParseInject: any body is either refused with a field-naming 400 or
// yields messages whose every address parses and whose content is what
// was given (or, in the template form, one message per recipient).
func FuzzParseInject(f *testing.F) {
	for _, s := range []string{
		`{"sender": "a@b.example", "recipients": ["c@d.example"], "content": "Subject: x\n\ny\n"}`,
		`{"sender": "", "recipients": [{"address": "c@d.example", "substitutions": {"n": "v"}}], "content": "{{n}}"}`,
		`{"sender": "", "substitutions": {"n": "v"}, "recipients": ["c@d.example"], "content": "{{ n }} {{m}}"}`,
		`{"sender": "x", "recipients": [1, {}], "content": 3}`,
		`[]`, `null`, `{"sender": null}`,
		`{"sender": "a@b.example", "recipients": ["c@d.example"], "content": "x", "tenant": "acme"}`,
		`{"sender": "a@b.example", "recipients": ["c@d.example"], "content": "x", "tenant": "a b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, apiErr := parseInject(body)
		if apiErr != nil {
			if apiErr.Status != 400 || apiErr.Code == "" {
				t.Fatalf("error %+v", apiErr)
			}
			return
		}
		envs, contents := in.messages(queue.Client{Proto: "HTTP"})
		if len(envs) != len(contents) || len(envs) == 0 {
			t.Fatalf("%d envelopes, %d contents", len(envs), len(contents))
		}
		if in.template && len(envs) != len(in.rcpts) {
			t.Fatalf("template: %d messages for %d recipients", len(envs), len(in.rcpts))
		}
		for _, env := range envs {
			if env.Tenant != "" && queue.CheckTenant(env.Tenant) != nil {
				t.Fatalf("accepted tenant %q", env.Tenant)
			}
			for _, r := range env.Recipients {
				if _, err := smtpd.ParseAddress(r.Addr, true); err != nil {
					t.Fatalf("accepted recipient %q: %v", r.Addr, err)
				}
			}
		}
	})
}
