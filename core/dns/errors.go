package dns

import (
	"errors"
	"fmt"

	"github.com/moonpost/moonpost/core/dsn"
)

// Kind classifies a lookup failure by what the mail system does next.
type Kind int

const (
	// NotFound: the name does not exist (NXDOMAIN), or it cannot receive
	// mail because it has neither MX nor address records. Permanent.
	NotFound Kind = iota + 1
	// Temporary: the servers failed, refused or did not answer in time.
	// Try again later.
	Temporary
	// NullMX: the domain publishes RFC 7505 "MX 0 ." and accepts no mail.
	// Permanent.
	NullMX
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not found"
	case Temporary:
		return "temporary failure"
	case NullMX:
		return "null MX"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// LookupError is the only error type returned by the Resolver.
type LookupError struct {
	Name string // the name asked for, after IDNA conversion when it worked
	Type string // "MX", "A", "AAAA", "TXT", "PTR" or "A/AAAA"
	Kind Kind
	Err  error // the underlying cause, for logs; may be nil
}

// Error formats the failure with its detail, for logs.
func (e *LookupError) Error() string {
	s := fmt.Sprintf("dns: %s %s: %s", e.Type, e.Name, e.Kind)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives the underlying cause.
func (e *LookupError) Unwrap() error { return e.Err }

// Temporary reports whether the lookup may succeed later.
func (e *LookupError) Temporary() bool { return e.Kind != NotFound && e.Kind != NullMX }

// Status maps the failure onto the dsn table. An unknown Kind is
// temporary, so a new kind added without a mapping defers mail.
func (e *LookupError) Status() *dsn.Status {
	switch e.Kind {
	case NotFound:
		return dsn.NoSuchDomain
	case NullMX:
		return dsn.NullMX
	}
	return dsn.DNSTemp
}

// StatusOf maps any error a Resolver returned onto the dsn table: a
// *LookupError by its Kind, anything else (a context error from a
// hand-written Resolver, say) as a temporary DNS failure. nil gives nil.
func StatusOf(err error) *dsn.Status {
	if err == nil {
		return nil
	}
	var le *LookupError
	if errors.As(err, &le) {
		return le.Status()
	}
	return dsn.DNSTemp
}

// IsNotFound reports whether err says the name does not exist.
func IsNotFound(err error) bool {
	var le *LookupError
	return errors.As(err, &le) && le.Kind == NotFound
}

// tempErr wraps a transport failure; a cancelled context is kept as the
// cause so callers can tell with errors.Is.
func tempErr(name, typ string, err error) *LookupError {
	if err == nil {
		err = errors.New("no usable answer")
	}
	return &LookupError{Name: name, Type: typ, Kind: Temporary, Err: err}
}
