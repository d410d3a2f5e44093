package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// referenceDecode is go-smtp's DATA reader, one byte at a time (its
// state machine, from net/textproto): the content, whether the end
// marker was found, and what was left unread after it.
func referenceDecode(in []byte) (out []byte, ended bool, rest []byte) {
	state := stateBeginLine
	i := 0
	for ; i < len(in) && state != stateEOF; i++ {
		c := in[i]
		switch state {
		case stateBeginLine:
			if c == '.' {
				state = stateDot
				continue
			}
			if c == '\r' {
				state = stateCR
				break
			}
			state = stateData
		case stateDot:
			if c == '\r' {
				state = stateDotCR
				continue
			}
			state = stateData
		case stateDotCR:
			if c == '\n' {
				state = stateEOF
				continue
			}
			state = stateData
		case stateCR:
			if c == '\n' {
				state = stateBeginLine
				break
			}
			state = stateData
		case stateData:
			if c == '\r' {
				state = stateCR
			}
		}
		out = append(out, c)
	}
	return out, state == stateEOF, in[i:]
}

// decodeAll runs a contentReader over in, read from the source in the
// given way and into buffers of size outSize.
func decodeAll(in []byte, source func(io.Reader) io.Reader, outSize, bufSize int) (out []byte, err error, rest []byte) {
	src := source(bytes.NewReader(in))
	r := &contentReader{read: src.Read, buf: make([]byte, bufSize)}
	p := make([]byte, outSize)
	for {
		n, rerr := r.Read(p)
		out = append(out, p[:n]...)
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err == io.EOF {
		unread, _ := io.ReadAll(src)
		rest = append(append(rest, r.buf[r.i:r.j]...), unread...)
	}
	return out, err, rest
}

var contentCases = []string{
	".\r\n",
	"\r\n.\r\n",
	"Subject: x\r\n\r\nbody\r\n.\r\n",
	"Subject: x\r\n\r\n..dot\r\n...two\r\n.\r\nQUIT\r\n",
	"a\r\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n",
	"bare\nlf\n.\nnot the end\r\n.\r\n",
	"cr\r\r\n.\r\nnot the end either\r\n.\r\n",
	"dot cr\r\n.\rX\r\n.\r\n",
	"dot dot\r\n..\r\n.\r\n",
	"\r\r\r\n\r\n.\r\n",
	"no end at all\r\n",
	"ends mid-marker\r\n.\r",
	"",
	strings.Repeat("0123456789012345678901234567890123456789012345678901234567890123456789012\r\n", 300) + ".\r\n",
}

// TestContentDecodeMatchesGoSMTP gives the same bytes to the session's
// content reader and to go-smtp's state machine: the content, the end,
// and what follows it must agree however the input is split.
func TestContentDecodeMatchesGoSMTP(t *testing.T) {
	sources := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
	}
	for _, in := range contentCases {
		want, ended, wantRest := referenceDecode([]byte(in))
		for name, src := range sources {
			for _, outSize := range []int{1, 3, 4096} {
				for _, bufSize := range []int{1, 5, 32 << 10} {
					got, err, rest := decodeAll([]byte(in), src, outSize, bufSize)
					if !bytes.Equal(got, want) {
						t.Errorf("%q (%s, out %d, buf %d): content %q, want %q", in, name, outSize, bufSize, got, want)
					}
					if ended != (err == io.EOF) {
						t.Errorf("%q (%s, out %d, buf %d): err %v, end found %v", in, name, outSize, bufSize, err, ended)
					}
					if !ended && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Errorf("%q (%s): err %v, want unexpected EOF", in, name, err)
					}
					if ended && !bytes.Equal(rest, wantRest) {
						t.Errorf("%q (%s, out %d, buf %d): rest %q, want %q", in, name, outSize, bufSize, rest, wantRest)
					}
				}
			}
		}
	}
}

func TestContentSizeLimit(t *testing.T) {
	in := strings.Repeat("x", 100) + "\r\n.\r\nQUIT\r\n"
	r := &contentReader{read: strings.NewReader(in).Read, buf: make([]byte, 16), limited: true, left: 50}
	got, err := io.ReadAll(r)
	if len(got) != 50 || err == nil || err.Error() != "SMTP error 552: Maximum message size exceeded" {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}
	if !r.finish() || string(r.buf[r.i:r.j]) != "QUIT\r\n" {
		t.Fatalf("finish did not read to the end: rest %q", r.buf[r.i:r.j])
	}
}

// FuzzContentReader checks the session's content reader against go-smtp's
// state machine on arbitrary input, read in small pieces.
func FuzzContentReader(f *testing.F) {
	for _, c := range contentCases {
		f.Add([]byte(c), uint8(7), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, out, buf uint8) {
		want, ended, wantRest := referenceDecode(in)
		got, err, rest := decodeAll(in, func(r io.Reader) io.Reader { return r }, int(out)+1, int(buf)+1)
		if !bytes.Equal(got, want) || ended != (err == io.EOF) || (ended && !bytes.Equal(rest, wantRest)) {
			t.Fatalf("content %q err %v rest %q; go-smtp: %q end %v rest %q", got, err, rest, want, ended, wantRest)
		}
	})
}

// The session reads the content itself when the client waited for 354,
// and what was pipelined after it still reaches go-smtp as commands.
func TestContentReadBySession(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	body := "Subject: s\r\n\r\n" + strings.Repeat("line of text\r\n..dotted\r\n", 2000)
	cl.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\n")
	for _, want := range []string{"250 ", "250 ", "354 "} {
		cl.expect(want)
	}
	// The end of the first message, a second transaction and QUIT in one write.
	cl.send(body + ".\r\nMAIL FROM:<b@remote.example>\r\nRCPT TO:<y@local.example>\r\nDATA\r\n")
	for _, want := range []string{"250 2.0.0 Ok: queued", "250 ", "250 ", "354 "} {
		cl.expect(want)
	}
	cl.send(".leading dot\r\n.\r\nQUIT\r\n")
	cl.expect("250 2.0.0 Ok: queued")
	cl.expect("221 ")
	_, content := ts.sub.calls()
	if len(content) != 2 {
		t.Fatalf("%d messages queued, want 2", len(content))
	}
	if want := strings.ReplaceAll(body, "\r\n..", "\r\n."); !strings.HasSuffix(content[0], want) {
		t.Errorf("first content (%d bytes) does not end with the unstuffed body", len(content[0]))
	}
	if !strings.HasSuffix(content[1], "\r\nleading dot\r\n") {
		t.Errorf("second content %q", content[1])
	}
	if n := ts.srv.diverted.Load(); n != 2 {
		t.Errorf("session read %d contents itself, want 2", n)
	}
}

// A client that sends its content before the 354 is read through
// go-smtp's reader, with the same result.
func TestContentBeforeReply(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\nSubject: early\r\n\r\n..x\r\n.\r\nQUIT\r\n")
	for _, want := range []string{"250 ", "250 ", "354 ", "250 2.0.0 Ok: queued", "221 "} {
		cl.expect(want)
	}
	_, content := ts.sub.calls()
	if len(content) != 1 || !strings.HasSuffix(content[0], "Subject: early\r\n\r\n.x\r\n") {
		t.Fatalf("content %q", content)
	}
	if n := ts.srv.diverted.Load(); n != 0 {
		t.Errorf("session read %d contents itself, want 0", n)
	}
}

// Over the size limit the session reads on to the end of the content,
// answers 552, and the dialogue goes on; a command line after the
// content is still held to the line limit.
func TestContentTooBigThenCommands(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMessageBytes = 1000; c.MaxLineLength = 100 })
	cl := dialReady(t, ts.smtp)
	cl.startData("x@local.example")
	cl.send(strings.Repeat("0123456789abcdefghi\r\n", 200) + ".\r\nNOOP\r\n")
	cl.expect("552 5.3.4")
	cl.expect("250 ")
	cl.startData("x@local.example")
	cl.send("small\r\n.\r\nNOOP " + strings.Repeat("x", 200) + "\r\n")
	cl.expect("250 2.0.0 Ok: queued")
	cl.expect("500 5.5.0")
	if n := ts.srv.diverted.Load(); n != 2 {
		t.Errorf("session read %d contents itself, want 2", n)
	}
}

// The reader works for io.ReadAll-style callers and for bufio readers
// in front of it, as cleanup uses it.
func TestContentReaderBuffered(t *testing.T) {
	in := "a\r\n..b\r\n.\r\n"
	r := &contentReader{read: strings.NewReader(in).Read, buf: make([]byte, 4)}
	got, err := io.ReadAll(bufio.NewReaderSize(r, 16))
	if err != nil || string(got) != "a\r\n.b\r\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}
