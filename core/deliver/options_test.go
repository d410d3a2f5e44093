package deliver

import "testing"

func TestCheckOptions(t *testing.T) {
	cases := []struct {
		opts  map[string]string
		known []string
		want  string
	}{
		{nil, nil, ""},
		{map[string]string{"mailbox": "/m/"}, []string{"mailbox", "size_limit"}, ""},
		{map[string]string{"mailbx": "/m/", "b": "1"}, []string{"mailbox"},
			`unknown transport option "b", "mailbx" (this transport accepts: mailbox)`},
		{map[string]string{"x": "1"}, nil, `unknown transport option "x" (this transport accepts: none)`},
	}
	for _, c := range cases {
		err := CheckOptions(c.opts, c.known...)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("CheckOptions(%v, %v) = %q, want %q", c.opts, c.known, got, c.want)
		}
	}
}
