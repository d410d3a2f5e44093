package app

import (
	"reflect"
	"testing"
)

func TestLeadingConfigFlags(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		flags, words []string
	}{
		{[]string{"route", "x@y"}, nil, []string{"route", "x@y"}},
		{[]string{"-c", "f.toml", "route", "x@y"}, []string{"-c", "f.toml"}, []string{"route", "x@y"}},
		{[]string{"--config=f.toml", "queue", "list"}, []string{"--config=f.toml"}, []string{"queue", "list"}},
		{[]string{"-c=f.toml", "status"}, []string{"-c=f.toml"}, []string{"status"}},
		{[]string{"-c", "f.toml"}, []string{"-c", "f.toml"}, nil},
		{[]string{"-spool", "s"}, nil, []string{"-spool", "s"}},
		{[]string{"-c"}, nil, []string{"-c"}},
	} {
		flags, words := leadingConfigFlags(tc.args)
		if !reflect.DeepEqual(flags, tc.flags) || !reflect.DeepEqual(words, tc.words) {
			t.Errorf("leadingConfigFlags(%q) = %q, %q; want %q, %q", tc.args, flags, words, tc.flags, tc.words)
		}
	}
}

func TestConfigFlagForms(t *testing.T) {
	for _, args := range [][]string{{"-c", "f"}, {"-c=f"}, {"--config=f"}, {"--config", "f"}} {
		path, rest, err := configFlag(append(args, "x"))
		if err != nil || path != "f" || !reflect.DeepEqual(rest, []string{"x"}) {
			t.Errorf("configFlag(%q) = %q, %q, %v", args, path, rest, err)
		}
	}
}
