package control

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/moonpost/moonpost/core/admin"
)

// MaxFrame bounds one frame, both ways: a request is code typed or piped
// by an operator, a response is bounded output.
const MaxFrame = 4 << 20

// SocketPath is the control socket of the spool at spoolDir.
func SocketPath(spoolDir string) string { return filepath.Join(spoolDir, "private", "control") }

// Request is one client request. Op selects the fields that matter:
//
//	eval      Code, Name: run a Lua chunk in the session's state
//	complete  Prefix: names that complete a dotted Lua name
//	queue     Action, IDs or Filter, Text, DryRun: a queue command
//	status    the daemon's status
//	reload    re-read moonpost.toml and the scripts (ReloadResult)
type Request struct {
	Op   string `json:"op"`
	Code string `json:"code,omitempty"`
	Name string `json:"name,omitempty"` // chunk name in error positions; default "stdin"
	// Timeout is eval's deadline for this chunk, a Go duration ("5m"),
	// in place of the server's ChunkTimeout; at most MaxChunkTimeout.
	Timeout string `json:"timeout,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	// Action is list, hold, release, requeue, delete, bounce, flush,
	// suspend, resume, suspensions or destinations.
	Action string      `json:"action,omitempty"`
	IDs    []string    `json:"ids,omitempty"`
	Filter *admin.Spec `json:"filter,omitempty"`
	Text   string      `json:"text,omitempty"` // hold reason, bounce text, flush domain, or suspend reason
	DryRun bool        `json:"dry_run,omitempty"`
	// suspend, resume: the site or the domain, and for how long.
	Site   string `json:"site,omitempty"`
	Domain string `json:"domain,omitempty"`
	For    string `json:"for,omitempty"`
	// route: the recipient, envelope sender and header lines to try.
	Addr   string   `json:"addr,omitempty"`
	Sender string   `json:"sender,omitempty"`
	Header []string `json:"header,omitempty"`
	// policy_diff: the candidate scripts folder and sample envelope lines
	// (none: the queue).
	Dir     string   `json:"dir,omitempty"`
	Samples []string `json:"samples,omitempty"`
}

// Response answers one Request (or greets a connection).
type Response struct {
	Output string `json:"output,omitempty"` // eval: printed lines and the chunk's results
	Error  string `json:"error,omitempty"`
	// More says the chunk is incomplete (an unfinished function, table or
	// long string): the client should send it again with the next line.
	More       bool            `json:"more,omitempty"`
	Candidates []string        `json:"candidates,omitempty"` // complete
	Result     json.RawMessage `json:"result,omitempty"`     // queue and status: JSON
}

// WriteFrame sends v as one frame.
func WriteFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("control: frame of %d bytes over the %d limit", len(b), MaxFrame)
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

// ErrFrameTooLarge is returned for a frame over MaxFrame; the stream
// cannot be resynchronised after it.
var ErrFrameTooLarge = errors.New("control: frame too large")

// ReadFrame reads one frame into v. Unknown JSON fields are refused, so
// a misspelt request field is an error rather than ignored.
func ReadFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return ErrFrameTooLarge
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
