package main

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// runnableMarker opens a command block the docs test runs: a fenced
// block whose info string is "sh runnable".
const runnableMarker = "```sh runnable"

// docBlock is one runnable block of a document.
type docBlock struct {
	file string
	line int // of the opening fence
	code string
}

// runnableBlocks reads the runnable blocks of a Markdown file.
func runnableBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == runnableMarker:
			cur = &docBlock{file: path, line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: runnable block never closed", path, cur.line)
	}
	return out
}

// docsSandbox is a working directory as after "make build": bin/ with
// the binaries (moonpost, and sendmail, mailq, newaliases, which are
// the same program by another name) and a copy of examples/.
func docsSandbox(t *testing.T, root string) string {
	t.Helper()
	// A short path: the control socket's must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "docs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	for _, name := range []string{"moonpost", "sendmail", "mailq", "newaliases"} {
		if err := os.Symlink(e2e.Binary, filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(root, "examples")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, "examples", rel)
		if d.IsDir() {
			if d.Name() == "spool" {
				return filepath.SkipDir
			}
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Scenario 26: every command block marked runnable in README.md,
// docs/*.md and the examples' READMEs runs and succeeds, in a fresh
// directory laid out as after "make build" (bin/moonpost and the
// entry points, examples/), under bash -e -o pipefail, each within a
// minute. A doc is a promise; these blocks are kept.
func TestT26RunnableDocBlocks(t *testing.T) {
	root, _ := filepath.Abs("../..")
	files := []string{filepath.Join(root, "README.md")}
	for _, pat := range []string{"docs/*.md", "examples/*/README.md"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		files = append(files, m...)
	}
	var blocks []docBlock
	for _, f := range files {
		blocks = append(blocks, runnableBlocks(t, f)...)
	}
	if len(blocks) < 5 {
		t.Fatalf("only %d runnable blocks found: the marker %q went missing", len(blocks), runnableMarker)
	}
	for _, b := range blocks {
		rel, _ := filepath.Rel(root, b.file)
		t.Run(strings.ReplaceAll(rel, "/", "_")+":"+itoa(b.line), func(t *testing.T) {
			dir := docsSandbox(t, root)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", b.code)
			cmd.Dir = dir
			cmd.Env = append(cleanEnv(), "HOME="+dir)
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s:%d: %v\n--- block\n%s--- output\n%s", rel, b.line, err, b.code, out)
			}
		})
	}
}

// cleanEnv is the environment without MOONPOST_CONFIG, so a block finds
// its configuration as a reader's shell would.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOONPOST_CONFIG=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return env
}

func itoa(n int) string { return strconv.Itoa(n) }
