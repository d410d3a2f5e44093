package app

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/queue"
)

// listSelection is what "queue list" shows: every message, or those a
// filter (--filter key=value, --class NAME) selects, with the same keys
// and meaning as the REPL's queue.list and the HTTP API's.
type listSelection struct {
	set    bool
	filter admin.Filter
	now    time.Time
	shown  int
}

// listFilter adds the filter flags to fs. After fs.Parse, ok compiles
// them; it reports a bad filter on stderr and returns false.
func listFilter(fs *flag.FlagSet) (sel *listSelection, ok func() bool) {
	var flt filterFlag
	fs.Var(&flt, "filter", "only messages a `key=value` selects (state, sender, rcpt_domain, older_than, reason_match, class, limit); repeatable")
	fs.Func("class", "only messages with a pending recipient whose last failure is of bounce `class` (filter class=); repeatable", func(v string) error {
		return flt.Set("class=" + v)
	})
	sel = &listSelection{}
	return sel, func() bool {
		if !flt.set {
			return true
		}
		f, err := flt.spec.Compile()
		if err != nil {
			fmt.Fprintln(os.Stderr, "moonpost: queue list:", err)
			return false
		}
		sel.set, sel.filter, sel.now = true, f, time.Now()
		return true
	}
}

// states are the queues to list, in mailq's order unless the filter
// names some.
func (s *listSelection) states() []queue.State {
	if s != nil && s.set && s.filter.States != nil {
		return s.filter.States
	}
	return listedStates
}

// keep reports whether m is listed, counting it against the limit.
func (s *listSelection) keep(m *queue.Message) bool {
	if s == nil || !s.set {
		return true
	}
	if s.filter.Limit > 0 && s.shown >= s.filter.Limit || !s.filter.Matches(m, s.now) {
		return false
	}
	s.shown++
	return true
}
