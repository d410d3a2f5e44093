// Package testmsg provides an in-memory deliver.Content for tests of the
// delivery agents.
package testmsg

import (
	"io"
	"strings"
)

// Content is a stored message held in a string (CRLF line endings).
type Content string

// Open returns a fresh reader over the message.
func (c Content) Open() io.Reader { return strings.NewReader(string(c)) }

// Size is the message length in bytes.
func (c Content) Size() int64 { return int64(len(c)) }

// Simple is a small well-formed message.
const Simple = Content("From: a@example.org\r\nSubject: test\r\n\r\nhello\r\nFrom the body\r\n")
