package aliases

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	text := `# system aliases
postmaster: root
Root:	root, admin@example.org ,
# a comment between continuation lines

	"|/usr/bin/filter -a, -b" , /var/spool/archive
"a b" : x
"q\"x": y
list: :include:/etc/mail/list.txt, ":include:/etc/mail/other list"
crlf: a,b` + "\r\n" + `dup: first
DUP: second
`
	tab, err := Parse(strings.NewReader(text), "aliases")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"postmaster": {"root"},
		"root":       {"root", "admin@example.org", "|/usr/bin/filter -a, -b", "/var/spool/archive"},
		"a b":        {"x"},
		`q"x`:        {"y"},
		"list":       {":include:/etc/mail/list.txt", ":include:/etc/mail/other list"},
		"crlf":       {"a", "b"},
		"dup":        {"first"},
	}
	if !reflect.DeepEqual(tab.Entries, want) {
		t.Errorf("entries:\n got %q\nwant %q", tab.Entries, want)
	}
	if len(tab.Warnings) != 1 || !strings.HasPrefix(tab.Warnings[0], "aliases:12: duplicate") {
		t.Errorf("warnings = %q", tab.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"a: b\nnocolon\n":        "f:2: missing ':' after name",
		"  x: y\n":               "f:1: continuation line without an entry",
		"\"open: x\n":            "f:1: unterminated quoted name",
		"\"a\" b: x\n":           "f:1: missing ':' after name",
		"a b: x\n":               `f:1: white space in name "a b" (quote it)`,
		": x\n":                  "f:1: empty name",
		"a:\n\n# c\nb: x\n":      `f:1: alias "a" has no targets`,
		"a: \"|cmd, x\n":         `f:1: unterminated quote in " \"|cmd, x"`,
		"a: b\n\nc: d,\n  \"e\n": `f:3: unterminated quote in " \"e"`,
	}
	for in, want := range cases {
		_, err := Parse(strings.NewReader(in), "f")
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != want {
			t.Errorf("Parse(%q) error = %v, want %s", in, err, want)
		}
	}
	long := "a: " + strings.Repeat("x", maxLine+1)
	if _, err := Parse(strings.NewReader(long), "f"); err == nil {
		t.Error("over-long line accepted")
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(` a@x, "|cmd \"q\", y" ,,/f, "half"quoted `)
	want := []string{"a@x", `|cmd "q", y`, "/f", `"half"quoted`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v", got, err)
	}
}

func write(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestAliasFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aliases")
	t0 := time.Now().Add(-time.Hour)
	write(t, path, "Root: admin\n", t0)
	f, err := LoadAliasFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lookup := func(name string) []string {
		got, ok, err := f.ExpandAlias(ctx, name, "example.org")
		if err != nil || (ok != (got != nil)) {
			t.Fatalf("lookup %s: %v %v %v", name, got, ok, err)
		}
		return got
	}
	if got := lookup("ROOT"); !reflect.DeepEqual(got, []string{"admin"}) {
		t.Errorf("root = %q", got)
	}
	write(t, path, "root: other\n", t0.Add(time.Second))
	if got := lookup("root"); !reflect.DeepEqual(got, []string{"other"}) {
		t.Errorf("after change root = %q", got)
	}
	write(t, path, "root other\n", t0.Add(2*time.Second)) // broken
	if got := lookup("root"); !reflect.DeepEqual(got, []string{"other"}) {
		t.Errorf("broken reload must keep the old table, root = %q", got)
	}
	if err := f.Reload(); err == nil || !strings.Contains(err.Error(), path+":1:") {
		t.Errorf("Reload error = %v", err)
	}
	os.Remove(path)
	if got := lookup("root"); got == nil {
		t.Error("missing file must keep the old table")
	}
	write(t, path, "root: back\n", t0.Add(3*time.Second))
	if got := lookup("root"); !reflect.DeepEqual(got, []string{"back"}) {
		t.Errorf("after restore root = %q", got)
	}
	if got := lookup("nobody"); got != nil {
		t.Errorf("nobody = %q", got)
	}
}

func TestLoadAliasFileErrors(t *testing.T) {
	if _, err := LoadAliasFile(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing file loaded")
	}
	path := filepath.Join(t.TempDir(), "aliases")
	write(t, path, "ok: x\nbad\n", time.Now())
	if _, err := LoadAliasFile(path); err == nil || err.Error() != path+":2: missing ':' after name" {
		t.Errorf("error = %v", err)
	}
}
