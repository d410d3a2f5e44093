package control

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEvalSession(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	for _, tc := range []struct{ code, want string }{
		{"1 + 1", "2\n"},
		{"x = 41", ""},
		{"x + 1", "42\n"},
		{"print('a', 1, nil)", "a\t1\tnil\n"},
		{"print({1, k = 'v'})", "{ 1, k = \"v\" }\n"},
		{"'s', {1, 2, k = 'v'}", "\"s\"\t{ 1, 2, k = \"v\" }\n"},
		{"config.myhostname", "\"mx.test\"\n"},
		{"require('json').encode({a = 1})", "\"{\\\"a\\\":1}\"\n"},
		{"hooks.generation()", "0\n"},
	} {
		if got := must(t, c, tc.code); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.code, got, tc.want)
		}
	}
	// A function across lines: each prefix is incomplete until "end".
	if r := eval(t, c, "function double(n)"); !r.More {
		t.Fatalf("incomplete chunk: %+v", r)
	}
	if r := eval(t, c, "function double(n)\n  return n * 2"); !r.More {
		t.Fatalf("incomplete chunk: %+v", r)
	}
	must(t, c, "function double(n)\n  return n * 2\nend")
	if got := must(t, c, "double(21)"); got != "42\n" {
		t.Fatalf("multi-line function: %q", got)
	}
	// Errors carry the chunk line, and the session carries on.
	r := eval(t, c, "local a = 1\nerror('boom')")
	if r.Error != "stdin:2: boom" {
		t.Fatalf("runtime error %q", r.Error)
	}
	if r := eval(t, c, "x = = 1"); !strings.Contains(r.Error, "line:1") || r.More {
		t.Fatalf("syntax error %+v", r)
	}
	if r := eval(t, c, "print('unterminated"); r.More || r.Error == "" {
		t.Fatalf("unterminated string: %+v", r)
	}
	if r := eval(t, c, "config.myhostname = 'x'"); r.Error == "" {
		t.Fatal("config was writable")
	}
	if r := eval(t, c, "hooks.call('transport', 'a@b.test')"); !strings.Contains(r.Error, "no scripts loaded") {
		t.Fatalf("hooks.call without scripts: %+v", r)
	}
	if got := must(t, c, "x"); got != "41\n" {
		t.Fatalf("session state lost after errors: %q", got)
	}
	if r := eval(t, c, "io.open('/etc/passwd')"); r.Error == "" {
		t.Fatal("io is reachable")
	}
}

func TestRunawayChunkIsStopped(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.ChunkTimeout = 200 * time.Millisecond })
	c := e.dial()
	must(t, c, "kept = 1")
	start := time.Now()
	r := eval(t, c, "print('before')\nwhile true do end")
	if !strings.Contains(r.Error, "chunk stopped") || r.Output != "before\n" {
		t.Fatalf("runaway chunk: %+v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stopped after %v", d)
	}
	if got := must(t, c, "kept == nil, 2 * 3"); got != "true\t6\n" {
		t.Fatalf("after the reset: %q", got)
	}
	// Mail flowed meanwhile and still does.
	e.submit("a@s.test", "u@up.test")
	waitFor(t, "delivery", func() bool { return e.sink.count("u@up.test") == 1 })
}

// An eval may ask for its own deadline (moonpost repl -timeout), longer
// or shorter than the server's, up to MaxChunkTimeout; a bad one is an
// error and runs nothing.
func TestChunkTimeoutAsked(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.ChunkTimeout, s.MaxChunkTimeout = 100*time.Millisecond, time.Minute })
	c := e.dial()
	// Busy for about 400 ms: past the server's 100 ms, inside 5 s.
	busy := "local t0 = os.clock() while os.clock() - t0 < 0.4 do end return 'done'"
	if r := eval(t, c, busy); !strings.Contains(r.Error, "ran longer than 100ms") {
		t.Fatalf("under the server's deadline: %+v", r)
	}
	r, err := c.Do(Request{Op: "eval", Code: busy, Timeout: "5s"})
	if err != nil || r.Error != "" || r.Output != "\"done\"\n" {
		t.Fatalf("with timeout 5s: %+v, %v", r, err)
	}
	r, err = c.Do(Request{Op: "eval", Code: "while true do end", Timeout: "150ms"})
	if err != nil || !strings.Contains(r.Error, "ran longer than 150ms") {
		t.Fatalf("with timeout 150ms: %+v, %v", r, err)
	}
	for _, bad := range []string{"2m", "soon", "-1s", "0s"} {
		r, err := c.Do(Request{Op: "eval", Code: "ran = true", Timeout: bad})
		if err != nil || !strings.HasPrefix(r.Error, "timeout ") {
			t.Fatalf("timeout %q: %+v, %v", bad, r, err)
		}
	}
	if got := must(t, c, "ran == nil"); got != "true\n" {
		t.Fatalf("a refused timeout ran its chunk: %q", got)
	}
}

func TestOutputIsBounded(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	r := eval(t, c, "for i = 1, 200000 do print(string.rep('x', 100)) end")
	if len(r.Output) > maxOutput+100 || !strings.HasSuffix(r.Output, "(output truncated)\n") {
		t.Fatalf("output of %d bytes, tail %q", len(r.Output), r.Output[len(r.Output)-40:])
	}
	if must(t, c, "1") != "1\n" {
		t.Fatal("session broken after a truncated output")
	}
}

func TestComplete(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	for prefix, want := range map[string]string{
		"queue.ho":       "queue.hold",
		"queue.dry_run.": "queue.dry_run.bounce queue.dry_run.delete queue.dry_run.flush queue.dry_run.hold queue.dry_run.release queue.dry_run.requeue",
		"hooks.g":        "hooks.generation",
		"config.myh":     "config.myhostname",
		"string.rep.":    "",
		"nosuch.x":       "",
	} {
		got, err := c.Complete(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("complete %q: %q, want %q", prefix, got, want)
		}
	}
}

func TestSocketModesAndLimits(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.MaxConns = 1 })
	for path, want := range map[string]os.FileMode{e.srv.Path: 0o600, e.srv.Path[:strings.LastIndex(e.srv.Path, "/")]: 0o700} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want %v", path, fi.Mode(), err, want)
		}
	}
	c := e.dial()
	if _, err := Dial(e.srv.Path); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("second session over the limit: %v", err)
	}
	c.Close()
	waitFor(t, "slot freed", func() bool {
		c2, err := Dial(e.srv.Path)
		if err == nil {
			c2.Close()
		}
		return err == nil
	})
	// A second server on the same spool is refused; a stale socket is not.
	other := &Server{Path: e.srv.Path}
	if err := other.Listen(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second daemon: %v", err)
	}
	e.stop()
	if _, err := os.Stat(e.srv.Path); !os.IsNotExist(err) {
		t.Fatalf("socket left after shutdown: %v", err)
	}
	if _, err := Dial(e.srv.Path); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("dial with no daemon: %v", err)
	}
}

func TestShutdownEndsRunningChunk(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.ChunkTimeout = time.Minute })
	c := e.dial()
	got := make(chan *Response, 1)
	go func() { r, _ := c.Eval("while true do end"); got <- r }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	e.stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v with a chunk running", d)
	}
	if r := <-got; r != nil && r.Error == "" {
		t.Fatalf("chunk result after shutdown: %+v", r)
	}
}

func TestBadFrames(t *testing.T) {
	e := newEnv(t, nil)
	for name, frame := range map[string][]byte{
		"unknown field": frameOf(`{"op":"eval","cod":"1"}`),
		"too large":     binary.BigEndian.AppendUint32(nil, MaxFrame+1),
	} {
		conn, err := net.Dial("unix", e.srv.Path)
		if err != nil {
			t.Fatal(err)
		}
		var hello Response
		ReadFrame(conn, &hello)
		conn.Write(frame)
		var r Response
		if err := ReadFrame(conn, &r); err != nil || !strings.HasPrefix(r.Error, "bad request") {
			t.Errorf("%s: %+v %v", name, r, err)
		}
		conn.Close()
	}
	c := e.dial()
	if r, _ := c.Do(Request{Op: "nope"}); r.Error == "" {
		t.Fatal("unknown op accepted")
	}
}

func frameOf(s string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(s)))
	b.WriteString(s)
	return b.Bytes()
}
