package classify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"# ok\n\nspam_block (unclosed\n", "rules:3: bad pattern"},
		{"mailbox_full quota\nfull_mailbox quota\n", `rules:2: unknown class "full_mailbox"`},
		{"policy\n", "rules:1: class policy without a pattern"},
		{"policy   \t \n", "rules:1: class policy without a pattern"},
		{"content \xff\n", "rules:1: not UTF-8"},
		{"content x\n" + strings.Repeat("a", maxLineLen+1) + "\n", "rules:2: line longer than"},
	} {
		_, err := Parse("rules", strings.NewReader(c.text))
		var le *LineError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%.40q) = %v, want an error with %q", c.text, err, c.want)
		}
	}
}

func TestParseLineForms(t *testing.T) {
	rs, err := Parse("rules", strings.NewReader("  # indented comment\nrate_limited\t^421 .*slow\n\tmailbox_full   quota   \r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 2 {
		t.Fatalf("%d rules, want 2", rs.Len())
	}
	r := rs.Match("452 4.2.2 QUOTA exceeded")
	if r == nil || r.Class != MailboxFull || r.Line != 3 || r.File != "rules" || r.Pattern.String() != "(?i)quota" {
		t.Fatalf("match = %+v", r)
	}
	if r := rs.Match("421 4.7.0 please SLOW down"); r == nil || r.Class != RateLimited {
		t.Fatalf("case-insensitive tab-separated rule: %+v", r)
	}
}

func TestClassifyFallbacks(t *testing.T) {
	rs, _ := Parse("empty", strings.NewReader(""))
	for st, want := range map[*dsn.Status]Class{
		nil: "", dsn.Sent: "", dsn.New(451, "4.3.0", "x"): Transient, dsn.New(550, "5.1.1", "x"): Unclassified,
	} {
		if got := rs.Classify(st); got != want {
			t.Errorf("Classify(%v) = %q, want %q", st, got, want)
		}
	}
}

func TestLoadFileFirstThenDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bounce-rules")
	os.WriteFile(path, []byte("# local knowledge first\ncontent ^550 5\\.1\\.1 .*example-filter\n"), 0o644)
	rs, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Classify(dsn.New(550, "5.1.1", "rejected by example-filter")); got != Content {
		t.Fatalf("file rule: %s, want content", got)
	}
	if got := rs.Classify(dsn.New(550, "5.1.1", "no such user")); got != InvalidRecipient {
		t.Fatalf("default rule after the file's: %s", got)
	}
	alone, err := Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := alone.Classify(dsn.New(550, "5.1.1", "no such user")); got != Unclassified {
		t.Fatalf("without defaults: %s, want unclassified", got)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing"), true); err == nil {
		t.Fatal("missing file loaded")
	}
	os.WriteFile(path, []byte("content ok\nspam_block [z-a]\n"), 0o644)
	if _, err := Load(path, true); err == nil || !strings.HasPrefix(err.Error(), path+":2: bad pattern") {
		t.Fatalf("bad file: %v", err)
	}
}

func TestClassifierSwap(t *testing.T) {
	var nilC *Classifier
	st := dsn.New(550, "5.1.1", "user unknown")
	if nilC.Classify(st) != InvalidRecipient || (&Classifier{}).Classify(st) != InvalidRecipient {
		t.Fatal("nil and zero Classifier must use the defaults")
	}
	rs, _ := Parse("mine", strings.NewReader("policy unknown\n"))
	c := New(nil)
	c.Set(rs)
	if got := c.Classify(st); got != Policy {
		t.Fatalf("after Set: %s", got)
	}
	c.Set(nil)
	if got := c.Classify(st); got != InvalidRecipient {
		t.Fatalf("after Set(nil): %s", got)
	}
}

// Every class but the fallbacks is given by some shipped rule, and the
// real replies cover each class.
func TestDefaultRulesCoverEveryClass(t *testing.T) {
	inRules, inReplies := map[Class]bool{}, map[Class]bool{}
	for _, r := range Default().rules {
		inRules[r.Class] = true
	}
	for _, c := range realReplies {
		inReplies[c.want] = true
	}
	for _, c := range Classes {
		if c != Unclassified && !inRules[c] {
			t.Errorf("no shipped rule gives %s", c)
		}
		if !inReplies[c] {
			t.Errorf("no real reply of class %s in the tests", c)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(string(defaultRules))
	f.Add("policy ^5\\d\\d 5\\.7\\.\\d+\\b\n# c\n\nspam_block (\n")
	f.Add("content\t\t(?i)x{1000}\n")
	f.Add("bogus x\n")
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Parse("fuzz", strings.NewReader(text))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, r := range rs.rules {
			if !Known(string(r.Class)) || r.Pattern == nil || r.Line < 1 {
				t.Fatalf("bad rule %+v", r)
			}
		}
		// Classification never fails and always names a known class.
		for _, st := range []*dsn.Status{dsn.New(550, "5.1.1", text), dsn.New(451, "4.4.1", text)} {
			if c := rs.Classify(st); !Known(string(c)) {
				t.Fatalf("class %q", c)
			}
		}
	})
}

// The prefilters never change a classification: with them or without,
// the same rule decides.
func FuzzPrefilter(f *testing.F) {
	for _, r := range Default().rules {
		f.Add(strings.TrimPrefix(r.Pattern.String(), "(?i)"), "550 5.1.1 The email account that you tried to reach does not exist")
	}
	f.Add(`a(b|cd)*e|x{2,}|(?-i)Ab`, "421 4.7.0 XXab ace ABE")
	f.Add(`straße|ſ`, "550 5.0.0 STRASSE s")
	f.Fuzz(func(t *testing.T, pat, reply string) {
		rs, err := Parse("fuzz", strings.NewReader("content "+strings.ReplaceAll(pat, "\n", " ")))
		if err != nil || rs.Len() == 0 {
			return
		}
		for _, in := range []string{reply, strings.ToUpper(reply), "550 5.1.1 " + reply} {
			if (rs.Match(in) == nil) != (rs.matchAll(in) == nil) {
				t.Fatalf("pattern %q on %q: prefiltered %v, plain %v (literals %q)", pat, in, rs.Match(in), rs.matchAll(in), rs.rules[0].pre)
			}
		}
		d := Default()
		if a, b := d.Match(reply), d.matchAll(reply); a != b {
			t.Fatalf("shipped rules on %q: prefiltered %v, plain %v", reply, a, b)
		}
	})
}

func TestPrefilterUnicodeFolding(t *testing.T) {
	rs, err := Parse("t", strings.NewReader("content xſy\ncontent Kelvin\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"550 5.0.0 XSY", "550 5.0.0 kelvin"} {
		if rs.Match(in) == nil || rs.matchAll(in) == nil {
			t.Errorf("%q: prefiltered %v, plain %v", in, rs.Match(in), rs.matchAll(in))
		}
	}
}

func TestPrefilterSameAsPlain(t *testing.T) {
	d := Default()
	for _, c := range realReplies {
		for _, in := range []string{c.st.Error(), strings.ToUpper(c.st.Error())} {
			if a, b := d.Match(in), d.matchAll(in); a != b {
				t.Errorf("%q: prefiltered %v, plain %v", in, a, b)
			}
		}
	}
}
