package cleanup

import (
	"bufio"
	"bytes"
	"errors"

	"github.com/emersion/go-message/textproto"
)

var errHeaderTooBig = errors.New("header too big")

// readHeader reads the header block from normalised (CRLF) input. It is
// lenient like Postfix's cleanup: a line that is neither a field nor a
// continuation ends the header and is returned as the first body line
// (a message without a blank separator line, or without any header, is
// still mail). The blank separator itself is consumed.
func readHeader(br *bufio.Reader, limit int) (h textproto.Header, bodyStart []byte, err error) {
	var fields [][]byte
	total := 0
	for {
		line, err := readLine(br, limit-total)
		if err != nil {
			if errors.Is(err, errHeaderTooBig) {
				return h, nil, err
			}
			// EOF inside the header: everything read was header.
			if len(line) > 0 && isField(line) {
				fields = append(fields, append(line, '\r', '\n'))
				line = nil
			}
			return build(fields), line, nil
		}
		total += len(line)
		switch {
		case bytes.Equal(line, []byte("\r\n")):
			return build(fields), nil, nil
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
		case isField(line):
			fields = append(fields, line)
		default:
			return build(fields), line, nil
		}
	}
}

// readLine reads one CRLF line of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, errHeaderTooBig
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// isField reports an RFC 5322 field: printable ASCII name, then a colon.
func isField(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// build makes a go-message header. Its field list is stored last-first
// (Add prepends), so raw fields go in reverse to keep their order.
func build(fields [][]byte) textproto.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.AddRaw(fields[i])
	}
	return h
}
