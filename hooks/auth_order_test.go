package hooks

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/policy"
)

// TestAuthOldArgumentOrderStillWorks: the session comes first now; a
// handler written for (user, pass, s) is still called that way in this
// release, beside new-order handlers, and Warnings names it.
func TestAuthOldArgumentOrderStillWorks(t *testing.T) {
	e := newEngine(t, map[string]string{
		"10-new.lua": `mta.on("auth", function(s, user, pass)
  if user == "new" then return pass == "pw" and s ~= nil and s.tls end
end)`,
		"20-old.lua": `
local function check(user, pass, s)
  if user == "old" then return pass == "pw" and s ~= nil and s.tls end
end
mta.on("auth", check)`,
	})
	c := WithSession(ctx(t), &policy.Session{TLS: true})
	for _, tc := range []struct {
		user, pass string
		want       bool
	}{
		{"new", "pw", true}, {"new", "bad", false}, {"old", "pw", true}, {"old", "bad", false}, {"other", "pw", false},
	} {
		if ok, err := e.Authenticate(c, tc.user, tc.pass); ok != tc.want || err != nil {
			t.Errorf("auth(%s, %s) = %v, %v; want %v", tc.user, tc.pass, ok, err, tc.want)
		}
	}
	w := e.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "20-old.lua:2: auth handler takes (user, pass, s)") || !strings.Contains(w[0], "use (s, user, pass)") {
		t.Errorf("warnings %q, want one for 20-old.lua:2", w)
	}
}
