package bufpool

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestCopy(t *testing.T) {
	src := strings.Repeat("0123456789abcdef", 5000) // 80,000 bytes: several buffers
	var dst bytes.Buffer
	n, err := Copy(&dst, io.MultiReader(strings.NewReader(src[:10]), strings.NewReader(src[10:])))
	if err != nil || n != int64(len(src)) || dst.String() != src {
		t.Fatalf("Copy = %d, %v; content equal: %v", n, err, dst.String() == src)
	}
}

// A MultiReader's WriteTo and io.Discard's ReadFrom each bring their
// own buffer; Copy must use the lent one: once the pool is warm, a call
// allocates a few small headers, not 8 or 32 KiB.
func TestCopyUsesTheLentBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector sync.Pool drops buffers on purpose; run without -race")
	}
	data := bytes.Repeat([]byte("x"), 20<<10)
	r1, r2 := bytes.NewReader(nil), bytes.NewReader(nil)
	copyOnce := func() {
		r1.Reset(data[:100])
		r2.Reset(data[100:])
		if _, err := Copy(io.Discard, io.MultiReader(r1, r2)); err != nil {
			t.Fatal(err)
		}
	}
	copyOnce()
	const calls = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < calls; i++ {
		copyOnce()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > 1024 {
		t.Errorf("Copy allocated %d bytes per call; the lent buffer is not used", per)
	}
}

func TestWriterAndReaderReset(t *testing.T) {
	var a, b bytes.Buffer
	w := Writer(&a)
	w.WriteString("left over")
	PutWriter(w) // unflushed bytes are dropped, not written to the next user
	w = Writer(&b)
	w.WriteString("mine")
	w.Flush()
	PutWriter(w)
	if a.Len() != 0 || b.String() != "mine" {
		t.Fatalf("a=%q b=%q", a.String(), b.String())
	}
	r := Reader(strings.NewReader("first\nsecond\n"))
	line, _ := r.ReadString('\n')
	PutReader(r)
	r = Reader(strings.NewReader("third\n"))
	if got, _ := r.ReadString('\n'); line != "first\n" || got != "third\n" {
		t.Fatalf("read %q then %q", line, got)
	}
	PutReader(r)
}
