package smtp

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// batchPeer answers only after it has read a whole pipelined envelope
// (everything through DATA), so a client that waits for each reply
// deadlocks and times out instead of passing.
type batchPeer struct {
	rcpt    func(cmd string) string // reply to one RCPT; default 250
	mail    string                  // reply to MAIL; default 250
	data    string                  // reply to DATA; default 354
	mu      sync.Mutex
	batches [][]string // the commands of each envelope, as received
	bodies  []string
}

func (p *batchPeer) serve(t *testing.T, ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.session(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
}

func (p *batchPeer) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprint(c, "220 peer.test\r\n")
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(strings.ToUpper(line), "EHLO") {
		return
	}
	fmt.Fprint(c, "250-peer.test\r\n250-PIPELINING\r\n250-DSN\r\n250 SIZE 1000000\r\n")
	for {
		batch, ok := readBatch(r)
		if !ok {
			return
		}
		p.mu.Lock()
		p.batches = append(p.batches, batch)
		p.mu.Unlock()
		fmt.Fprint(c, p.replies(batch))
		if !strings.HasPrefix(p.dataReply(), "354") {
			continue
		}
		body := readBody(r)
		p.mu.Lock()
		p.bodies = append(p.bodies, body)
		p.mu.Unlock()
		fmt.Fprint(c, "250 2.0.0 Ok: queued as B\r\n")
	}
}

// readBatch reads commands through DATA (or QUIT).
func readBatch(r *bufio.Reader) ([]string, bool) {
	var batch []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, false
		}
		cmd := strings.TrimRight(line, "\r\n")
		if strings.EqualFold(cmd, "QUIT") {
			return nil, false
		}
		batch = append(batch, cmd)
		if strings.EqualFold(cmd, "DATA") {
			return batch, true
		}
	}
}

func readBody(r *bufio.Reader) string {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil || line == ".\r\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

func (p *batchPeer) replies(batch []string) string {
	var b strings.Builder
	for _, cmd := range batch {
		verb := strings.ToUpper(strings.Fields(cmd)[0])
		switch {
		case verb == "MAIL" && p.mail != "":
			b.WriteString(p.mail + "\r\n")
		case verb == "RCPT" && p.rcpt != nil:
			b.WriteString(p.rcpt(cmd) + "\r\n")
		case verb == "DATA":
			b.WriteString(p.dataReply() + "\r\n")
		default:
			b.WriteString("250 2.0.0 Ok\r\n")
		}
	}
	return b.String()
}

func (p *batchPeer) dataReply() string {
	if p.data != "" {
		return p.data
	}
	return "354 go ahead"
}

func pipelineEnv(t *testing.T, p *batchPeer) *env {
	ln := listen(t, "127.0.0.1", 0)
	p.serve(t, ln)
	return newEnv(t, portOf(ln), nil)
}

func TestPipelinedTransaction(t *testing.T) {
	p := &batchPeer{rcpt: func(cmd string) string {
		if strings.Contains(cmd, "<no@") {
			return "550 5.1.1 no such user"
		}
		return "250 2.1.5 Ok"
	}}
	e := pipelineEnv(t, p)
	req := request("[127.0.0.1]", "a@dst.test", "no@dst.test", "b@dst.test")
	req.Recipients[0].Notify = "SUCCESS,FAILURE"
	req.Recipients[0].ORcpt = "rfc822;A+B=C@dst.test"
	req.EnvID, req.Ret = "env 1", "HDRS"
	res := e.agent.Deliver(t.Context(), req)
	relay := relay("127.0.0.1", "127.0.0.1", e.port)
	want(t, res, 0, 250, "2.0.0", relay)
	want(t, res, 1, 550, "5.1.1", relay)
	want(t, res, 2, 250, "2.0.0", relay)
	// A second message reuses the connection and starts with RSET.
	res = e.agent.Deliver(t.Context(), request("[127.0.0.1]", "c@dst.test"))
	want(t, res, 0, 250, "2.0.0", relay)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.batches) != 2 || len(p.bodies) != 2 || e.dials.count() != 1 {
		t.Fatalf("batches %d bodies %d dials %d", len(p.batches), len(p.bodies), e.dials.count())
	}
	first := strings.Join(p.batches[0], "\n")
	for _, w := range []string{"MAIL FROM:<a@src.test> SIZE=", " RET=HDRS ENVID=env+201",
		"RCPT TO:<a@dst.test> NOTIFY=SUCCESS,FAILURE ORCPT=RFC822;A+2BB+3DC@dst.test"} {
		if !strings.Contains(first, w) {
			t.Errorf("envelope lacks %q:\n%s", w, first)
		}
	}
	if p.batches[1][0] != "RSET" {
		t.Errorf("second envelope %q does not start with RSET", p.batches[1])
	}
}

func TestPipelinedMailRefused(t *testing.T) {
	p := &batchPeer{mail: "550 5.7.1 sender refused", data: "503 5.5.1 no valid recipients"}
	e := pipelineEnv(t, p)
	res := e.agent.Deliver(t.Context(), request("[127.0.0.1]", "a@dst.test", "b@dst.test"))
	relay := relay("127.0.0.1", "127.0.0.1", e.port)
	want(t, res, 0, 550, "5.7.1", relay)
	want(t, res, 1, 550, "5.7.1", relay)
	if len(p.bodies) != 0 {
		t.Error("a body was sent after MAIL was refused")
	}
}

func TestPipelinedDataAcceptedWithoutRecipients(t *testing.T) {
	p := &batchPeer{rcpt: func(string) string { return "450 4.2.0 busy" }}
	e := pipelineEnv(t, p)
	res := e.agent.Deliver(t.Context(), request("[127.0.0.1]", "a@dst.test"))
	want(t, res, 0, 450, "4.2.0", relay("127.0.0.1", "127.0.0.1", e.port))
	// The empty DATA was ended and the connection is still good.
	res = e.agent.Deliver(t.Context(), request("[127.0.0.1]", "a@dst.test"))
	want(t, res, 0, 450, "4.2.0", relay("127.0.0.1", "127.0.0.1", e.port))
	if e.dials.count() != 1 {
		t.Errorf("%d connections; the first should have been reused", e.dials.count())
	}
}
