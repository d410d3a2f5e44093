package addr

import "testing"

func TestSplit(t *testing.T) {
	cases := []struct {
		in, delims               string
		local, domain, user, ext string
	}{
		{"Joe+list@Example.org", "+", "Joe+list", "Example.org", "Joe", "list"},
		{"joe@x", "+", "joe", "x", "joe", ""},
		{"a+b+c@x", "+", "a+b+c", "x", "a", "b+c"},
		{"a-b@x", "+-", "a-b", "x", "a", "b"},
		{"+foo@x", "+", "+foo", "x", "+foo", ""},
		{`"a@b"@x`, "+", `"a@b"`, "x", `"a@b"`, ""},
		{"nodomain", "+", "nodomain", "", "nodomain", ""},
		{"a+b@x", "", "a+b", "x", "a+b", ""},
	}
	for _, c := range cases {
		p := Split(c.in, c.delims)
		if p.Local != c.local || p.Domain != c.domain || p.User != c.user || p.Extension != c.ext {
			t.Errorf("Split(%q, %q) = %+v", c.in, c.delims, p)
		}
	}
}

func TestHeaderPrefix(t *testing.T) {
	if got := HeaderPrefix("", "a@x", true); got != "Return-Path: <>\r\nDelivered-To: a@x\r\n" {
		t.Errorf("got %q", got)
	}
	if got := HeaderPrefix("s@x\r\nBcc: evil", "", true); got != "Return-Path: <s@xBcc: evil>\r\n" {
		t.Errorf("got %q", got)
	}
}
