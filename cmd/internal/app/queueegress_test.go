package app

import "testing"

func TestShapingArgs(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		action            string
		site, domain, dur *string
		want              bool
	}{
		{"suspend", s("google"), s(""), s("1h"), true},
		{"suspend", s(""), s("example.com"), s("30m"), true},
		{"suspend", s("google"), s(""), s(""), false},
		{"suspend", s("google"), s("example.com"), s("1h"), false},
		{"suspend", s(""), s(""), s("1h"), false},
		{"resume", s("google"), s(""), nil, true},
		{"resume", s(""), s(""), nil, false},
		{"suspensions", nil, nil, nil, true},
	}
	for _, c := range cases {
		if got := shapingArgsOK(c.action, c.site, c.domain, c.dur); got != c.want {
			t.Errorf("%s %v %v %v: %v, want %v", c.action, c.site, c.domain, c.dur, got, c.want)
		}
	}
}
