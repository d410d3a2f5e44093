package pipe

import (
	"reflect"
	"testing"
)

func TestParseAndExpand(t *testing.T) {
	global := map[string]string{"sender": "s@x", "nexthop": "nh", "queue_id": "Q1"}
	rcpts := []map[string]string{
		{"recipient": "a+ext@d", "user": "a", "extension": "ext", "domain": "d", "mailbox": "a+ext", "original_recipient": "A@d"},
		{"recipient": "b@d", "user": "b", "domain": "d", "mailbox": "b"},
	}
	cases := []struct {
		argv []string
		want []string
	}{
		{[]string{"/bin/cmd", "-f", "${sender}", "--", "${recipient}"},
			[]string{"/bin/cmd", "-f", "s@x", "--", "a+ext@d", "b@d"}},
		{[]string{"/bin/cmd", "-r${user}:${extension}", "${queue_id}/${nexthop}"},
			[]string{"/bin/cmd", "-ra:ext", "-rb:", "Q1/nh"}},
		{[]string{"/bin/sh", "-c", "echo $1 $$ $${x} $", "${original_recipient}"},
			[]string{"/bin/sh", "-c", "echo $1 $ ${x} $", "A@d", ""}},
		{[]string{"/bin/cmd", "", "${domain}${mailbox}"},
			[]string{"/bin/cmd", "", "da+ext", "db"}},
	}
	for _, c := range cases {
		tpls, err := parseArgv(c.argv)
		if err != nil {
			t.Fatalf("%q: %v", c.argv, err)
		}
		if got := expand(tpls, global, rcpts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.argv, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, argv := range [][]string{
		nil,
		{"/bin/cmd", "${nosuch}"},
		{"/bin/cmd", "${sender"},
		{"${sender}"},
	} {
		if _, err := parseArgv(argv); err == nil {
			t.Errorf("%q: accepted", argv)
		}
	}
}

func TestSplitArgv(t *testing.T) {
	got, ok := splitArgv(" argv=/usr/bin/cmd  -f ${sender}\t${recipient} ")
	if !ok || !reflect.DeepEqual(got, []string{"/usr/bin/cmd", "-f", "${sender}", "${recipient}"}) {
		t.Errorf("split = %q %v", got, ok)
	}
	if _, ok := splitArgv("/usr/bin/cmd"); ok {
		t.Error("no argv= prefix accepted")
	}
}
