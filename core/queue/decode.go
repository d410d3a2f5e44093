package queue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

func decodeEnvelope(br *bufio.Reader, off *int64, p *parsed) error {
	e := &p.env
	seen := map[byte]bool{}
	for {
		line, err := readRecord(br, off)
		if err != nil {
			return fmt.Errorf("envelope: %w", err)
		}
		kind, fields, err := splitRecord(line)
		if err != nil {
			return err
		}
		if kind != 'R' && kind != 'V' && seen[kind] {
			return fmt.Errorf("duplicate record %c", kind)
		}
		seen[kind] = true
		if kind == 'M' {
			return finishEnvelope(e, fields, seen)
		}
		if err := envelopeRecord(e, kind, fields); err != nil {
			return err
		}
	}
}

func finishEnvelope(e *Envelope, fields []string, seen map[byte]bool) error {
	for _, k := range []byte{'I', 'T', 'S', 'C'} {
		if !seen[k] {
			return fmt.Errorf("missing record %c", k)
		}
	}
	if !seen['R'] && !e.ExtractRcpts {
		return errors.New("no recipients")
	}
	if err := want('M', fields, 1); err != nil {
		return err
	}
	size, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || size < 0 || len(fields[0]) != sizeDigits {
		return fmt.Errorf("bad content size %q", fields[0])
	}
	e.Size = size
	return nil
}

func envelopeRecord(e *Envelope, kind byte, f []string) error {
	switch kind {
	case 'I':
		if err := want(kind, f, 1); err != nil {
			return err
		}
		if !Valid(f[0]) {
			return fmt.Errorf("bad queue ID %q", f[0])
		}
		e.ID = ID(f[0])
	case 'T':
		return decodeTime(kind, f, &e.Arrival)
	case 'S':
		if err := want(kind, f, 1); err != nil {
			return err
		}
		e.Sender = f[0]
	case 'C':
		if err := want(kind, f, 5); err != nil {
			return err
		}
		e.Client = Client{Name: f[0], Addr: f[1], Helo: f[2], Proto: f[3], AuthUser: f[4]}
	case 'R':
		if err := want(kind, f, 3); err != nil {
			return err
		}
		if len(e.Recipients) >= MaxRecipients {
			return errors.New("too many recipients")
		}
		e.Recipients = append(e.Recipients, Recipient{Addr: f[0], ORcpt: f[1], Notify: f[2], State: Pending})
	case 'V':
		return metaRecord(e, f)
	case 'G':
		return tenantRecord(e, f)
	default:
		return optionalRecord(e, kind, f)
	}
	return nil
}

func optionalRecord(e *Envelope, kind byte, f []string) error {
	if err := want(kind, f, 1); err != nil {
		return err
	}
	switch kind {
	case 'E':
		e.EnvID = f[0]
	case 'X':
		if f[0] != "FULL" && f[0] != "HDRS" {
			return fmt.Errorf("bad RET %q", f[0])
		}
		e.Ret = f[0]
	case 'B':
		if f[0] != "7BIT" && f[0] != "8BITMIME" && f[0] != "BINARYMIME" {
			return fmt.Errorf("bad BODY %q", f[0])
		}
		e.BodyType = f[0]
	case 'U':
		e.SMTPUTF8 = f[0] == "1"
	case 'H':
		e.HoldReason = f[0]
	case 'K':
		e.ExtractRcpts = f[0] == "1"
	case 'P':
		e.FullName = f[0]
	default:
		return fmt.Errorf("unknown envelope record %q", kind)
	}
	return nil
}

func decodeTime(kind byte, f []string, t *time.Time) error {
	if err := want(kind, f, 1); err != nil {
		return err
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return fmt.Errorf("record %c: bad time %q", kind, f[0])
	}
	*t = time.Unix(0, n)
	return nil
}

// decodeJournal applies journal records. A final record without its
// newline is a torn append and is ignored; anything else malformed is an
// error.
func decodeJournal(br *bufio.Reader, off *int64, p *parsed) error {
	for {
		line, err := readRecord(br, off)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		kind, fields, err := splitRecord(line)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if err := journalRecord(&p.env, kind, fields); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		p.goodEnd = *off
	}
}

func journalRecord(e *Envelope, kind byte, f []string) error {
	switch kind {
	case 'D', 'F', 'Q':
		return rcptJournal(e, kind, f)
	case 'N':
		r, err := rcptIndex(e, kind, f, 1)
		if err == nil {
			r.Reported = true
		}
		return err
	case 'A':
		if err := want(kind, f, 2); err != nil {
			return err
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 {
			return fmt.Errorf("bad attempt count %q", f[0])
		}
		e.Attempts = n
		return decodeTime(kind, f[1:], &e.NextAttempt)
	case 'H':
		if err := want(kind, f, 1); err != nil {
			return err
		}
		e.HoldReason = f[0]
	case 'W':
		e.DelayWarned = true
	case 'Z':
		// padding (see paddedEnd): spaces only
		if len(f) > 1 || (len(f) == 1 && strings.Trim(f[0], " ") != "") {
			return errors.New("bad padding record")
		}
	default:
		return fmt.Errorf("unknown record %q", kind)
	}
	return nil
}

func rcptJournal(e *Envelope, kind byte, f []string) error {
	n := 2
	if len(f) == 3 || len(f) == 4 {
		n = len(f) // with the relay (Record.Via), and the class (Record.Classed)
	}
	r, err := rcptIndex(e, kind, f, n)
	if err != nil {
		return err
	}
	if n == 4 && (kind == 'D' || !ValidClass(f[3])) {
		return fmt.Errorf("record %c: bad class %q", kind, f[3])
	}
	r.Reason = f[1]
	r.Relay, r.Class = "", ""
	if n >= 3 {
		r.Relay = f[2]
	}
	if n == 4 {
		r.Class = f[3]
	}
	switch kind {
	case 'D':
		r.State = Delivered
	case 'F':
		r.State = Failed
	}
	return nil
}

func rcptIndex(e *Envelope, kind byte, f []string, n int) (*Recipient, error) {
	if err := want(kind, f, n); err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(f[0])
	if err != nil || i < 0 || i >= len(e.Recipients) {
		return nil, fmt.Errorf("record %c: bad recipient index %q", kind, f[0])
	}
	return &e.Recipients[i], nil
}
