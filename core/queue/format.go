package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/internal/bufpool"
)

// The queue file is line records "K field\tfield...\n", each field
// escaped by escape(). The envelope section ends with the content record
// "M <size>\n" (size as 20 fixed digits so a streaming writer can fill it in
// at commit), then exactly size bytes of content, then journal records.
const (
	magic      = "moonpost-queue 1\n"
	sizeDigits = 20
	// maxRecordLen bounds one record so a hostile file cannot make the
	// reader allocate without limit.
	maxRecordLen = 64 << 10
	// MaxRecipients bounds the recipients of one file, for the same reason.
	MaxRecipients = 100000
)

// Record is one queue file record. Build them with the constructors below.
type Record struct {
	kind   byte
	fields []string
}

// RcptDelivered marks recipient idx done: delivered, discarded or expanded.
func RcptDelivered(idx int, reason string) Record { return rcptRecord('D', idx, reason) }

// RcptFailed marks recipient idx done: failed permanently, to be bounced.
func RcptFailed(idx int, reason string) Record { return rcptRecord('F', idx, reason) }

// RcptDeferred records the last temporary failure of recipient idx.
func RcptDeferred(idx int, reason string) Record { return rcptRecord('Q', idx, reason) }

// RcptReported records that recipient idx's failure was notified.
func RcptReported(idx int) Record { return Record{'N', []string{strconv.Itoa(idx)}} }

// Attempt records the attempt count and the next attempt time.
func Attempt(n int, next time.Time) Record {
	return Record{'A', []string{strconv.Itoa(n), strconv.FormatInt(next.UnixNano(), 10)}}
}

// HoldReason records why a message was put on hold ("" when released).
func HoldReason(reason string) Record { return Record{'H', []string{reason}} }

// DelayWarned records that the sender got a delay warning.
func DelayWarned() Record { return Record{'W', nil} }

func rcptRecord(kind byte, idx int, reason string) Record {
	return Record{kind, []string{strconv.Itoa(idx), reason}}
}

// Via adds to an outcome record (RcptDelivered, RcptFailed, RcptDeferred)
// the relay that gave it, Postfix style ("mx.example.com[192.0.2.1]:25",
// "local"), so a bounce can name the Remote-MTA. An empty relay adds
// nothing; files written before the field existed decode as they did.
func (r Record) Via(relay string) Record {
	if relay == "" || (r.kind != 'D' && r.kind != 'F' && r.kind != 'Q') || len(r.fields) != 2 {
		return r
	}
	return Record{r.kind, append(r.fields[:2:2], relay)}
}

// Classed adds to an outcome record (RcptFailed, RcptDeferred) the
// bounce class of the failure (see core/classify), after the relay,
// which is then written empty when there was none: call Via first. An
// empty class adds nothing; files written before the field existed
// decode as they did.
func (r Record) Classed(class string) Record {
	if class == "" || (r.kind != 'F' && r.kind != 'Q') || len(r.fields) < 2 || len(r.fields) > 3 {
		return r
	}
	f := make([]string, 4)
	copy(f, r.fields) // index, reason, relay or ""
	f[3] = class
	return Record{r.kind, f}
}

// ValidClass reports whether s can be stored as a bounce class: a
// snake_case name of 1 to 32 characters. Which names exist is
// core/classify's business; the file only keeps the spelling sane, so a
// file written by a version with more classes still reads.
func ValidClass(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func (r Record) appendTo(b []byte) []byte {
	b = append(b, r.kind)
	for i, f := range r.fields {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, '\t')
		}
		b = escape(b, f)
	}
	return append(b, '\n')
}

// escape writes s with %, control characters and DEL as %XX, so a field
// never contains a tab, CR or LF whatever an envelope holds.
func escape(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '%' || c == 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func unescape(s string) (string, error) {
	if !strings.ContainsRune(s, '%') {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// encodeEnvelope writes the envelope section, ending with the content
// record whose size field starts at the returned offset.
func encodeEnvelope(e *Envelope) (buf []byte, sizeOff int) {
	b := make([]byte, 0, 256+64*len(e.Recipients))
	b = append(b, magic...)
	add := func(kind byte, fields ...string) { b = Record{kind, fields}.appendTo(b) }
	add('I', string(e.ID))
	add('T', strconv.FormatInt(e.Arrival.UnixNano(), 10))
	add('S', e.Sender)
	c := e.Client
	add('C', c.Name, c.Addr, c.Helo, c.Proto, c.AuthUser)
	if e.EnvID != "" {
		add('E', e.EnvID)
	}
	if e.Ret != "" {
		add('X', e.Ret)
	}
	if e.BodyType != "" {
		add('B', e.BodyType)
	}
	if e.SMTPUTF8 {
		add('U', "1")
	}
	for _, r := range e.Recipients {
		add('R', r.Addr, r.ORcpt, r.Notify)
	}
	if e.HoldReason != "" {
		add('H', e.HoldReason)
	}
	if e.ExtractRcpts {
		add('K', "1")
	}
	if e.FullName != "" {
		add('P', e.FullName)
	}
	for _, k := range metaKeys(e.Meta) {
		add('V', k, e.Meta[k])
	}
	if e.Tenant != "" {
		add('G', e.Tenant)
	}
	b = append(b, "M "...)
	sizeOff = len(b)
	b = append(b, fmt.Sprintf("%0*d\n", sizeDigits, e.Size)...)
	return b, sizeOff
}

// parsed is the result of decoding a queue file.
type parsed struct {
	env        Envelope
	contentOff int64
	// goodEnd is the offset after the last complete journal record; a
	// torn record beyond it (a crash mid-append) is ignored and cut off
	// before the next append.
	goodEnd int64
}

// counter tracks the read offset of a bufio.Reader's source.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decode parses a whole queue file from r. Any deviation from the format
// is an error: the caller quarantines the file.
func decode(r io.Reader) (*parsed, error) {
	br := bufpool.Reader(r)
	defer bufpool.PutReader(br)
	p, err := decodeStart(br)
	if err != nil {
		return nil, err
	}
	off := p.contentOff
	n, err := br.Discard(int(p.env.Size))
	off += int64(n)
	if err != nil || int64(n) != p.env.Size {
		return nil, fmt.Errorf("content truncated at %d of %d bytes", n, p.env.Size)
	}
	p.goodEnd = off
	return p, decodeJournal(br, &off, p)
}

// decodeStart parses the magic line and the envelope, up to the content.
func decodeStart(br *bufio.Reader) (*parsed, error) {
	var off int64
	line, err := readRecord(br, &off)
	if err != nil || line+"\n" != magic {
		return nil, errors.New("not a moonpost queue file")
	}
	p := &parsed{}
	if err := decodeEnvelope(br, &off, p); err != nil {
		return nil, err
	}
	p.contentOff = off
	return p, nil
}

// decodeHead parses an envelope section as encodeEnvelope wrote it.
func decodeHead(head []byte) (*parsed, error) {
	br := bufpool.Reader(bytes.NewReader(head))
	defer bufpool.PutReader(br)
	p, err := decodeStart(br)
	if err == nil && p.contentOff != int64(len(head)) {
		err = errors.New("envelope section longer than its records")
	}
	return p, err
}

func readRecord(br *bufio.Reader, off *int64) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		*off += int64(len(chunk))
		if len(b) > maxRecordLen {
			return "", errors.New("record too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		return string(b[:len(b)-1]), nil
	}
}

// Queue files end in a padding record (after the content, before any
// journal record) that fills the last file system block: "Z", a space,
// spaces, LF. A reused spare file then keeps its length when the next
// message is about as long, and its fsync writes the data without an
// inode size change or a truncate (on ext4 that was a third of the
// fsync's cost). The decoder skips it.
const (
	padBlock = 4096
	// minPad is the shortest padding record, "Z \n".
	minPad = 3
	// maxPadReuse bounds the padding that keeps a longer spare's length;
	// past it the spare is cut to this message's padded length.
	maxPadReuse = 8 << 10
)

var padSpaces = []byte(strings.Repeat(" ", maxPadReuse+padBlock))

// paddedEnd is the file length for n bytes of envelope and content: the
// next block boundary after the padding record, or old, the length of
// the reused file, when that is longer by no more than maxPadReuse.
func paddedEnd(n, old int64) int64 {
	end := (n + minPad + padBlock - 1) / padBlock * padBlock
	if old > end && old-n <= maxPadReuse {
		end = old
	}
	return end
}

// writePad writes a padding record of n (≥ minPad) bytes.
func writePad(w *bufio.Writer, n int64) {
	w.WriteString("Z ")
	w.Write(padSpaces[:n-minPad])
	w.WriteByte('\n')
}

func splitRecord(line string) (kind byte, fields []string, err error) {
	if line == "" {
		return 0, nil, errors.New("empty record")
	}
	kind = line[0]
	if len(line) == 1 {
		return kind, nil, nil
	}
	if line[1] != ' ' {
		return 0, nil, fmt.Errorf("malformed record %q", line)
	}
	fields = strings.Split(line[2:], "\t")
	for i, f := range fields {
		if fields[i], err = unescape(f); err != nil {
			return 0, nil, err
		}
	}
	return kind, fields, nil
}

func want(kind byte, fields []string, n int) error {
	if len(fields) != n {
		return fmt.Errorf("record %c: %d fields, want %d", kind, len(fields), n)
	}
	return nil
}
