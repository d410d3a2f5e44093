package dsn

import (
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a\r\nBcc: victim@example.com", "a Bcc: victim@example.com"},
		{"tab\there  and\x00nul", "tab here and nul"},
		{"\r\n\r\n", ""},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"ünïcode stays", "ünïcode stays"},
	}
	for _, c := range cases {
		if got := clean(c.in); got != c.want {
			t.Errorf("clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := clean(strings.Repeat("é", 1000)) // 2000 bytes
	if len(long) > maxValueLen || !strings.HasPrefix(long, "é") || strings.ContainsRune(long, '\uFFFD') {
		t.Errorf("cap cut badly: %d bytes", len(long))
	}
}

func TestWriteFieldFolds(t *testing.T) {
	var b strings.Builder
	writeField(&b, "Diagnostic-Code", "smtp; "+strings.Repeat("word ", 60)+"\r\nInjected: yes")
	out := b.String()
	if !strings.HasSuffix(out, "\r\n") {
		t.Fatalf("field not terminated: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
	if len(lines) < 3 {
		t.Fatalf("expected folding, got %d lines", len(lines))
	}
	for i, l := range lines {
		if len(l) > foldAt {
			t.Errorf("line %d is %d long", i, len(l))
		}
		if i > 0 && l[0] != ' ' {
			t.Errorf("continuation line %d does not start with a space: %q", i, l)
		}
	}
	// An unbreakable word stays whole, under the RFC 5322 hard limit.
	b.Reset()
	writeField(&b, "Diagnostic-Code", strings.Repeat("x", 5000))
	for _, l := range strings.Split(b.String(), "\r\n") {
		if len(l) > 998 {
			t.Errorf("line of %d octets", len(l))
		}
	}
}

func TestAddressTypes(t *testing.T) {
	cases := []struct{ in, want string }{
		{"bob@example.org", "rfc822; bob@example.org"},
		{"bob+tag@example.org", "rfc822; bob+tag@example.org"},
		{"用户@例子.广告", "utf-8; 用户@例子.广告"},
		{"josé+x=y@example.org", `utf-8; josé\x{2B}x\x{3D}y@example.org`},
		{"\"a\\b\"@ex.org", `rfc822; "a\b"@ex.org`},
		{"ü\\@ex.org", `utf-8; ü\x{5C}@ex.org`},
	}
	for _, c := range cases {
		if got := typedAddress(c.in); got != c.want {
			t.Errorf("typedAddress(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTypedValues(t *testing.T) {
	cases := []struct{ fn, in, want string }{
		{"orcpt", "rfc822;Bob@Example.org", "rfc822; Bob@Example.org"},
		{"orcpt", "RFC822; bob@example.org", "rfc822; bob@example.org"},
		{"orcpt", "bob@example.org", "rfc822; bob@example.org"},
		{"orcpt", "rfc822;josé@example.org", "utf-8; josé@example.org"},
		{"orcpt", "x-local;bob", "x-local; bob"},
		{"mta", "mx.example.org", "dns; mx.example.org"},
		{"mta", "dns; mx.example.org", "dns; mx.example.org"},
		{"diag", "550 5.1.1 user unknown", "smtp; 550 5.1.1 user unknown"},
		{"diag", "X-Unix; exit 75", "x-unix; exit 75"},
		// The text's own ';' is not a type separator.
		{"diag", "550 5.7.1 rejected; see http://x", "smtp; 550 5.7.1 rejected; see http://x"},
	}
	for _, c := range cases {
		var got string
		switch c.fn {
		case "orcpt":
			got = typedORcpt(c.in)
		case "mta":
			got = typed(c.in, "dns")
		case "diag":
			got = typed(c.in, "smtp")
		}
		if got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.fn, c.in, got, c.want)
		}
	}
}
