package admin

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/queue"
)

// Header is one header field, in message order.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message is one queued message in full: its entry, the client, the
// header fields, and the body when asked for.
type Message struct {
	Entry
	Client  queue.Client `json:"client"`
	EnvID   string       `json:"envid,omitempty"`
	Ret     string       `json:"ret,omitempty"`
	Headers []Header     `json:"headers"`
	Body    string       `json:"body,omitempty"`
	// Truncated is set when the body is longer than the limit asked for.
	Truncated bool `json:"truncated,omitempty"`
}

// GetStates are searched by Get, in this order.
var GetStates = append(append([]queue.State(nil), ListStates...), queue.Corrupt)

// Get reads message id from whichever queue holds it. bodyLimit bounds
// the body returned: 0 leaves it out.
func (a *Admin) Get(id queue.ID, bodyLimit int64) (*Message, error) {
	m, err := a.Open(id)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return messageOf(m, bodyLimit)
}

// Open finds message id in whichever queue holds it (GetStates) and
// opens it; the caller closes it. queue.ErrNotFound when none does.
func (a *Admin) Open(id queue.ID) (*queue.Message, error) {
	if !queue.Valid(string(id)) {
		return nil, fmt.Errorf("%q is not a queue ID", id)
	}
	for _, st := range GetStates {
		m, err := a.Store.Read(st, id)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		return m, err
	}
	return nil, queue.ErrNotFound
}

func messageOf(m *queue.Message, bodyLimit int64) (*Message, error) {
	out := &Message{Entry: entryOf(m), Client: m.Client, EnvID: m.EnvID, Ret: m.Ret}
	br := bufio.NewReader(m.Open())
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", m.ID, err)
	}
	for f := h.Fields(); f.Next(); {
		out.Headers = append(out.Headers, Header{Name: f.Key(), Value: f.Value()})
	}
	if bodyLimit <= 0 {
		return out, nil
	}
	body, err := io.ReadAll(io.LimitReader(br, bodyLimit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > bodyLimit {
		body, out.Truncated = body[:bodyLimit], true
	}
	out.Body = string(body)
	return out, nil
}
