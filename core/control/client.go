package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"syscall"
	"time"
)

// ErrNotRunning means there is no daemon at the control socket.
var ErrNotRunning = errors.New("the moonpost daemon is not running")

// Client is one control session. It is not safe for concurrent use:
// requests are answered in order.
type Client struct {
	c net.Conn
}

// Dial connects to the control socket at path and reads the greeting.
// A missing socket or one nobody listens on gives an error wrapping
// ErrNotRunning; a refusal by the daemon gives its reason.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (no control socket at %s)", ErrNotRunning, path)
		}
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	cl := &Client{c: c}
	var hello Response
	if err := cl.read(&hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if hello.Error != "" {
		c.Close()
		return nil, errors.New(hello.Error)
	}
	return cl, nil
}

// Close ends the session.
func (cl *Client) Close() error { return cl.c.Close() }

func (cl *Client) read(r *Response) error {
	err := ReadFrame(cl.c, r)
	if errors.Is(err, net.ErrClosed) {
		return errors.New("the daemon closed the session")
	}
	return err
}

// Do sends one request and returns its response. Errors reported by the
// daemon are in Response.Error; the error return is for the transport.
func (cl *Client) Do(req Request) (*Response, error) {
	if err := WriteFrame(cl.c, req); err != nil {
		return nil, err
	}
	var r Response
	if err := cl.read(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Eval runs a chunk in the session's Lua state.
func (cl *Client) Eval(code string) (*Response, error) { return cl.Do(Request{Op: "eval", Code: code}) }

// Complete returns the names that complete prefix.
func (cl *Client) Complete(prefix string) ([]string, error) {
	r, err := cl.Do(Request{Op: "complete", Prefix: prefix})
	if err != nil {
		return nil, err
	}
	return r.Candidates, nil
}

// Call sends a queue or status request and decodes its result into v.
func (cl *Client) Call(req Request, v any) error {
	r, err := cl.Do(req)
	if err != nil {
		return err
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return json.Unmarshal(r.Result, v)
}
