package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chzyer/readline"

	"github.com/moonpost/moonpost/core/control"
)

// dialDaemon connects to the running daemon's control socket. It prints
// why it cannot and returns the exit code to use.
func dialDaemon(cfgPath string) (*control.Client, int) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return nil, exConfig
	}
	c, err := control.Dial(control.SocketPath(cfg.SpoolDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return nil, exTempFail
	}
	return c, exOK
}

// repl is "moonpost repl [-c file] [-timeout D] [-e CODE]": a Lua prompt
// inside the daemon, or one chunk from -e or a non-terminal stdin.
func repl(args []string) int {
	fs := flag.NewFlagSet("repl", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	code := fs.String("e", "", "run this Lua chunk and exit")
	timeout := fs.String("timeout", "", "each chunk's deadline (a duration, up to 1h; default the daemon's 10s)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: moonpost repl [-c file] [-timeout D] [-e CODE]")
		return exUsage
	}
	c, rc := dialDaemon(*cfgPath)
	if c == nil {
		return rc
	}
	defer c.Close()
	switch {
	case *code != "":
		return runChunk(c, *code, "(command line)", *timeout)
	case !readline.IsTerminal(int(os.Stdin.Fd())):
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "moonpost:", err)
			return exIOErr
		}
		return runChunk(c, string(b), "stdin", *timeout)
	}
	return interactive(c, *timeout)
}

// runChunk runs one whole chunk under timeout ("" for the daemon's
// default); a Lua error exits with exDataErr.
func runChunk(c *control.Client, code, name, timeout string) int {
	r, err := c.Do(control.Request{Op: "eval", Code: code, Name: name, Timeout: timeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	fmt.Print(r.Output)
	switch {
	case r.More:
		fmt.Fprintln(os.Stderr, "moonpost: incomplete chunk (unexpected end of input)")
		return exDataErr
	case r.Error != "":
		fmt.Fprintln(os.Stderr, r.Error)
		return exDataErr
	}
	return exOK
}

const (
	prompt     = "moonpost> "
	contPrompt = "       >> "
)

// interactive reads lines with editing, history (~/.moonpost_history)
// and completion; lines accumulate while the daemon says the chunk is
// incomplete; each chunk runs under timeout ("" for the daemon's
// default). Ctrl-C drops the pending chunk; Ctrl-D or "exit" leaves.
func interactive(c *control.Client, timeout string) int {
	sc := &syncClient{c: c}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            prompt,
		HistoryFile:       historyFile(),
		AutoComplete:      completer{sc},
		HistorySearchFold: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exIOErr
	}
	defer rl.Close()
	fmt.Fprintln(rl.Stdout(), "moonpost Lua prompt: queue, hooks, config and the stdlib; Ctrl-D to leave.")
	var chunk []string
	for {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			chunk = nil
			rl.SetPrompt(prompt)
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return exOK
		}
		if len(chunk) == 0 && (strings.TrimSpace(line) == "exit" || strings.TrimSpace(line) == "quit") {
			return exOK
		}
		if len(chunk) == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		chunk = append(chunk, line)
		r, err := sc.do(control.Request{Op: "eval", Code: strings.Join(chunk, "\n"), Timeout: timeout})
		if err != nil {
			fmt.Fprintln(rl.Stderr(), "moonpost:", err)
			return exTempFail
		}
		if r.More {
			rl.SetPrompt(contPrompt)
			continue
		}
		chunk = nil
		rl.SetPrompt(prompt)
		fmt.Fprint(rl.Stdout(), r.Output)
		if r.Error != "" {
			fmt.Fprintln(rl.Stdout(), "error:", r.Error)
		}
	}
}

func historyFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".moonpost_history")
}

// syncClient serialises the prompt's and the completer's requests on
// the one session.
type syncClient struct {
	mu sync.Mutex
	c  *control.Client
}

func (s *syncClient) do(req control.Request) (*control.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Do(req)
}

// completer completes the dotted name before the cursor with names the
// daemon's session knows.
type completer struct{ c *syncClient }

func (cp completer) Do(line []rune, pos int) ([][]rune, int) {
	start := pos
	for start > 0 && isNameRune(line[start-1]) {
		start--
	}
	prefix := string(line[start:pos])
	r, err := cp.c.do(control.Request{Op: "complete", Prefix: prefix})
	if err != nil || len(r.Candidates) == 0 {
		return nil, 0
	}
	last := prefix[strings.LastIndexAny(prefix, ".:")+1:]
	out := make([][]rune, 0, len(r.Candidates))
	for _, cand := range r.Candidates {
		out = append(out, []rune(strings.TrimPrefix(cand, prefix)))
	}
	return out, len([]rune(last))
}

func isNameRune(r rune) bool {
	return r == '_' || r == '.' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
