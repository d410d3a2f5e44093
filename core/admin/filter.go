package admin

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

// Spec is a filter as operators write it: in a Lua table, a JSON object
// or "key=value" on the command line. Compile checks and turns it into a
// Filter.
type Spec struct {
	State       []string `json:"state,omitempty"`        // queue names; default: all but corrupt
	Sender      string   `json:"sender,omitempty"`       // address, "@domain", or "<>" for the null sender
	RcptDomain  string   `json:"rcpt_domain,omitempty"`  // a pending recipient is in this domain
	OlderThan   string   `json:"older_than,omitempty"`   // "90m", "2h", "3d", or seconds
	ReasonMatch string   `json:"reason_match,omitempty"` // RE2 regexp on a pending recipient's last reason or the hold reason
	Class       []string `json:"class,omitempty"`        // bounce classes (core/classify); a pending recipient's last failure is one
	Limit       int      `json:"limit,omitempty"`        // at most this many messages; 0: all
	Tenant      string   `json:"tenant,omitempty"`       // the message's tenant, exactly
}

// SpecKeys are the keys Set accepts, for completion and error messages.
var SpecKeys = []string{"state", "sender", "rcpt_domain", "older_than", "reason_match", "class", "tenant", "limit"}

// Set assigns one key from its text form. State may be given several
// times or as a comma list. An unknown key is an error, so a typo never
// widens a selection that is about to be deleted.
func (s *Spec) Set(key, value string) error {
	switch key {
	case "state":
		for _, v := range strings.Split(value, ",") {
			if v = strings.TrimSpace(v); v != "" {
				s.State = append(s.State, v)
			}
		}
	case "sender":
		s.Sender = value
	case "rcpt_domain":
		s.RcptDomain = value
	case "older_than":
		s.OlderThan = value
	case "reason_match":
		s.ReasonMatch = value
	case "tenant":
		s.Tenant = value
	case "class":
		s.Class = appendList(s.Class, value)
	case "limit":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fmt.Errorf("limit: want a count, got %q", value)
		}
		s.Limit = n
	default:
		return fmt.Errorf("unknown filter key %q (known: %s)", key, strings.Join(SpecKeys, ", "))
	}
	return nil
}

// Filter selects queued messages. The zero Filter selects everything in
// the default states.
type Filter struct {
	States      []queue.State // nil: the caller's default
	Sender      string        // lower case; see Spec
	RcptDomain  string        // lower case
	OlderThan   time.Duration // arrival at least this long ago
	ReasonMatch *regexp.Regexp
	Classes     map[string]bool // nil: any; see Spec.Class
	Limit       int
	Tenant      string // exact; "" matches every message
}

// Compile validates s.
func (s Spec) Compile() (Filter, error) {
	f := Filter{Sender: strings.ToLower(s.Sender), RcptDomain: strings.ToLower(strings.TrimPrefix(s.RcptDomain, "@")), Limit: s.Limit}
	if s.Tenant != "" {
		if err := queue.CheckTenant(s.Tenant); err != nil {
			return f, fmt.Errorf("tenant: %v", err)
		}
		f.Tenant = s.Tenant
	}
	for _, name := range s.State {
		st, ok := stateNamed(name)
		if !ok {
			return f, fmt.Errorf("state: unknown queue %q", name)
		}
		f.States = append(f.States, st)
	}
	if s.OlderThan != "" {
		d, err := ParseAge(s.OlderThan)
		if err != nil {
			return f, err
		}
		f.OlderThan = d
	}
	if err := f.compileClasses(s.Class); err != nil {
		return f, err
	}
	if s.ReasonMatch != "" {
		re, err := regexp.Compile(s.ReasonMatch)
		if err != nil {
			return f, fmt.Errorf("reason_match: %v", err)
		}
		f.ReasonMatch = re
	}
	return f, nil
}

func stateNamed(name string) (queue.State, bool) {
	for _, st := range queue.States {
		if string(st) == name {
			return st, true
		}
	}
	return "", false
}

// ParseAge reads "90s", "2h30m", "3d" or a plain number of seconds.
func ParseAge(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return time.Duration(n * 24 * float64(time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("older_than: want an age like 90m, 2h or 3d, got %q", s)
	}
	return d, nil
}

// match reports whether e passes f's predicates (states and limit are
// the lister's business).
func (f *Filter) match(e *Entry, now time.Time) bool {
	if f.Sender != "" && !senderMatches(f.Sender, strings.ToLower(e.Sender)) {
		return false
	}
	if f.OlderThan > 0 && now.Sub(e.Arrival) < f.OlderThan {
		return false
	}
	if f.RcptDomain != "" && !e.pendingIn(f.RcptDomain) {
		return false
	}
	if f.ReasonMatch != nil && !e.reasonMatches(f.ReasonMatch) {
		return false
	}
	if f.Tenant != "" && e.Tenant != f.Tenant {
		return false
	}
	if f.Classes != nil && !e.classIn(f.Classes) {
		return false
	}
	return true
}

// Matches reports whether message m passes f's predicates, as List
// would select it (states and limit aside): for a lister that reads the
// spool itself, such as queue list.
func (f *Filter) Matches(m *queue.Message, now time.Time) bool {
	e := entryOf(m)
	return f.match(&e, now)
}

func senderMatches(want, sender string) bool {
	switch {
	case want == "<>":
		return sender == ""
	case strings.HasPrefix(want, "@"):
		return strings.HasSuffix(sender, want)
	}
	return sender == want
}

func (e *Entry) pendingIn(domain string) bool {
	for _, r := range e.Recipients {
		if r.State == "pending" && strings.EqualFold(domainOf(r.Addr), domain) {
			return true
		}
	}
	return false
}

func (e *Entry) reasonMatches(re *regexp.Regexp) bool {
	if e.HoldReason != "" && re.MatchString(e.HoldReason) {
		return true
	}
	for _, r := range e.Recipients {
		if r.State == "pending" && r.Reason != "" && re.MatchString(r.Reason) {
			return true
		}
	}
	return false
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}
