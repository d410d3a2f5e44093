package sendmail

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/moonpost/moonpost/core/queue"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    Options
		wantErr string
	}{
		{[]string{"-t", "-i"}, Options{Mode: "bm", Extract: true, IgnDots: true}, ""},
		{[]string{"-f<a@x>", "-F", "Alice A", "b@y"}, Options{Mode: "bm", Sender: "a@x", FullName: "Alice A", Rcpts: []string{"b@y"}}, ""},
		{[]string{"-r", "a@x", "-oi", "-oem", "-C/etc/m.toml", "b@y"}, Options{Mode: "bm", Sender: "a@x", IgnDots: true, Config: "/etc/m.toml", Rcpts: []string{"b@y"}}, ""},
		{[]string{"-N", "success,failure", "-Rhdrs", "-V", "env1", "-B8bitmime", "-v", "b@y"},
			Options{Mode: "bm", Notify: "SUCCESS,FAILURE", Ret: "HDRS", EnvID: "env1", Body: "8BITMIME", Verbose: true, Rcpts: []string{"b@y"}}, ""},
		{[]string{"-bp"}, Options{Mode: "bp"}, ""},
		{[]string{"-bs"}, Options{Mode: "bs"}, ""},
		{[]string{"-q", "-odi", "--", "-dash@y", "-"}, Options{Mode: "bm", Rcpts: []string{"-dash@y", "-"}}, ""},
		{[]string{"-", "b@y"}, Options{Mode: "bm", Rcpts: []string{"-", "b@y"}}, ""},
		{[]string{"-bz"}, Options{}, "unsupported mode -bz"},
		{[]string{"-Z"}, Options{}, "unknown option -Z"},
		{[]string{"b@y", "-f"}, Options{}, "option -f needs a value"},
	} {
		got, err := Parse(tc.args)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Parse(%q) = %+v, %v; want error %q", tc.args, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		o       Options
		wantErr string
		bad     bool // wraps ErrBadAddress
	}{
		{Options{Rcpts: []string{"b@y"}}, "", false},
		{Options{Extract: true}, "", false},
		{Options{}, "recipient addresses must be given", false},
		{Options{Rcpts: []string{"b@y"}, Ret: "ALL"}, "-R ALL", false},
		{Options{Rcpts: []string{"b@y"}, Body: "BINARYMIME"}, "-B BINARYMIME", false},
		{Options{Rcpts: []string{"b@y\r\nRCPT TO:<c@z>"}}, "bad address", true},
		{Options{Sender: "a<@x", Rcpts: []string{"b@y"}}, "bad address", true},
		{Options{Rcpts: []string{strings.Repeat("a", 513)}}, "bad address", true},
	} {
		err := tc.o.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, ErrBadAddress) != tc.bad {
			t.Errorf("%+v: %v; want %q (bad address %v)", tc.o, err, tc.wantErr, tc.bad)
		}
	}
}

func TestEnvelope(t *testing.T) {
	o := &Options{Rcpts: []string{"a@x, b@y", " ", "c@z"}, Notify: "NEVER", Ret: "FULL", EnvID: "e", Body: "7BIT", Extract: true, FullName: "F"}
	env := o.Envelope("alice")
	want := &queue.Envelope{Sender: "alice", FullName: "F", ExtractRcpts: true, Ret: "FULL", EnvID: "e", BodyType: "7BIT",
		Recipients: []queue.Recipient{{Addr: "a@x", Notify: "NEVER"}, {Addr: "b@y", Notify: "NEVER"}, {Addr: "c@z", Notify: "NEVER"}}}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("envelope %+v\nwant %+v", env, want)
	}
	o.Sender = "s@x"
	if env := o.Envelope("alice"); env.Sender != "s@x" {
		t.Errorf("-f sender lost: %q", env.Sender)
	}
}

func TestInput(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // longer than the buffer: no line logic inside it
	for _, tc := range []struct {
		in      string
		ignDots bool
		want    string
	}{
		{"From alice Mon Jan 1\nSubject: a\n\nbody\n", false, "Subject: a\n\nbody\n"},
		{"Subject: a\n\nbody\n.\nafter\n", false, "Subject: a\n\nbody\n"},
		{"Subject: a\n\nbody\r\n.\r\nafter\n", false, "Subject: a\n\nbody\r\n"},
		{"Subject: a\n\nbody\n.\nafter\n", true, "Subject: a\n\nbody\n.\nafter\n"},
		{"Subject: a\n\nFrom here\n", false, "Subject: a\n\nFrom here\n"},
		{"Subject: a\n\nno newline", false, "Subject: a\n\nno newline"},
		{"a\n" + long + "\n.\nb\n", false, "a\n" + long + "\n"},
	} {
		b, err := io.ReadAll(NewInput(strings.NewReader(tc.in), tc.ignDots))
		if err != nil || string(b) != tc.want {
			t.Errorf("input %.40q (ignDots %v) = %.60q, %v; want %.60q", tc.in, tc.ignDots, b, err, tc.want)
		}
	}
}

// TestInputReadErrorIsKept: a failing stdin is an error at every read,
// never a short message that looks complete.
func TestInputReadErrorIsKept(t *testing.T) {
	boom := errors.New("boom")
	in := NewInput(io.MultiReader(strings.NewReader("Subject: a\n\nbo"), iotest.ErrReader(boom)), false)
	if _, err := io.ReadAll(in); !errors.Is(err, boom) {
		t.Fatalf("ReadAll: %v, want boom", err)
	}
	if _, err := in.Read(make([]byte, 10)); !errors.Is(err, boom) || !errors.Is(in.Err(), boom) {
		t.Errorf("later Read: %v, Err %v", err, in.Err())
	}
}

// FuzzParse: any argument list either parses or fails with an error;
// what parses and validates carries no line break or angle bracket into
// the envelope.
func FuzzParse(f *testing.F) {
	f.Add("-f\x00a@x\x00-t\x00-oi")
	f.Add("-bs")
	f.Add("--\x00-b@y\x00c@z,d@w")
	f.Add("-N\x00never\x00-R\x00full\x00b@y")
	f.Fuzz(func(t *testing.T, joined string) {
		o, err := Parse(strings.Split(joined, "\x00"))
		if err != nil {
			return
		}
		if o.Validate() != nil {
			return
		}
		env := o.Envelope("login")
		for _, a := range append([]string{env.Sender}, rcptAddrs(env)...) {
			if strings.ContainsAny(a, "\r\n\x00<>") {
				t.Fatalf("address %q got through", a)
			}
		}
	})
}

func rcptAddrs(env *queue.Envelope) []string {
	var out []string
	for _, r := range env.Recipients {
		out = append(out, r.Addr)
	}
	return out
}

// FuzzInput: the message read is a prefix of the input (less a leading
// "From " line), whole when dots are ignored and the input has no
// "From " line first.
func FuzzInput(f *testing.F) {
	f.Add("Subject: a\n\nbody\n.\nafter\n", false)
	f.Add("From x\nSubject: a\n\n", true)
	f.Add(".\n", false)
	f.Fuzz(func(t *testing.T, in string, ignDots bool) {
		b, err := io.ReadAll(NewInput(strings.NewReader(in), ignDots))
		if err != nil {
			t.Fatal(err)
		}
		rest := in
		if line, after, ok := strings.Cut(in, "\n"); strings.HasPrefix(strings.TrimRight(line, "\r"), "From ") {
			if ok {
				rest = after
			} else {
				rest = ""
			}
		}
		if !strings.HasPrefix(rest, string(b)) {
			t.Fatalf("output %q is not a prefix of %q", b, rest)
		}
		if ignDots && string(b) != rest {
			t.Fatalf("with -i, output %q, want %q", b, rest)
		}
	})
}
