package local

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/addr"
)

// maxHeaderScan bounds how much of the header section the loop check
// reads; a Delivered-To further down than this is not looked for.
const maxHeaderScan = 1 << 20

// deliveredTo returns the lower-cased Delivered-To addresses the message
// already carries, for loop detection.
func deliveredTo(c deliver.Content) map[string]bool {
	seen := map[string]bool{}
	br := bufio.NewReader(io.LimitReader(c.Open(), maxHeaderScan))
	var field []byte
	flush := func() {
		name, value, ok := bytes.Cut(field, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "Delivered-To") {
			seen[strings.ToLower(strings.TrimSpace(string(value)))] = true
		}
		field = field[:0]
	}
	for {
		line, err := br.ReadBytes('\n')
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			field = append(field, line...) // folded continuation
		} else {
			flush()
			if len(line) == 0 { // end of header (or of input)
				return seen
			}
			field = append(field, line...)
		}
		if err != nil {
			flush()
			return seen
		}
	}
}

// messageReader returns the message with Return-Path and Delivered-To
// prepended, still CRLF; the writers convert line endings.
func messageReader(req *deliver.Request, deliveredTo string) io.Reader {
	prefix := addr.HeaderPrefix(req.Sender, deliveredTo, true)
	return io.MultiReader(strings.NewReader(prefix), req.Content.Open())
}
