package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// Manager is the part of the queue manager that changes the queue. Apply
// must act on one message from the goroutine that owns activation and
// report the state it found the message in (see qmgr.Manager.Apply);
// Flush makes all deferred mail due and returns how many messages moved.
type Manager interface {
	Apply(ctx context.Context, id queue.ID, op qmgr.Op, text string) (queue.State, qmgr.Outcome, error)
	Flush(ctx context.Context) int
}

// Admin administers one spool.
type Admin struct {
	Store   *queue.Store
	Manager Manager          // nil: read-only; changes return ErrNoManager
	Now     func() time.Time // nil: time.Now
}

// ErrNoManager is returned for changes when no queue manager runs.
var ErrNoManager = errors.New("admin: the queue manager is not running")

// ListStates are listed when a filter names none, in mailq's order.
var ListStates = []queue.State{queue.Active, queue.Incoming, queue.Deferred, queue.Hold, queue.Maildrop}

// ActStates are selected by actions when a filter names none: mail in
// maildrop/ belongs to pickup until it is committed to incoming/.
var ActStates = []queue.State{queue.Active, queue.Incoming, queue.Deferred, queue.Hold}

// Rcpt is one recipient of an Entry.
type Rcpt struct {
	Addr   string `json:"address"`
	State  string `json:"state"` // pending, delivered, failed
	Reason string `json:"reason,omitempty"`
	Class  string `json:"class,omitempty"` // bounce class of the last failure (core/classify)
}

// Entry is one queued message as listed.
type Entry struct {
	ID          queue.ID    `json:"id"`
	State       queue.State `json:"state"`
	Size        int64       `json:"size"`
	Arrival     time.Time   `json:"arrival"`
	Sender      string      `json:"sender"`
	Recipients  []Rcpt      `json:"recipients"`
	Reason      string      `json:"reason,omitempty"` // last deferral reason of a pending recipient
	NextAttempt time.Time   `json:"next_attempt,omitzero"`
	Attempts    int         `json:"attempts"`
	HoldReason  string      `json:"hold_reason,omitempty"`
	Tenant      string      `json:"tenant,omitempty"` // the policy's tenant for the message
	// Unreadable is set (and the envelope fields empty) for a file that
	// does not parse; the daemon quarantines it.
	Unreadable string `json:"unreadable,omitempty"`
}

var rcptStates = map[queue.RcptState]string{queue.Pending: "pending", queue.Delivered: "delivered", queue.Failed: "failed"}

func entryOf(m *queue.Message) Entry {
	e := Entry{ID: m.ID, State: m.State, Size: m.Size(), Arrival: m.Arrival, Sender: m.Sender,
		NextAttempt: m.NextAttempt, Attempts: m.Attempts, HoldReason: m.HoldReason}
	e.Tenant = m.Tenant
	for _, r := range m.Recipients {
		e.Recipients = append(e.Recipients, Rcpt{Addr: r.Addr, State: rcptStates[r.State], Reason: r.Reason, Class: r.Class})
		if r.State == queue.Pending && r.Reason != "" {
			e.Reason = r.Reason
		}
	}
	return e
}

func (a *Admin) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// List returns the messages f selects, in f.States order (ListStates by
// default) and by arrival within a state. It stops early when ctx ends.
func (a *Admin) List(ctx context.Context, f Filter) ([]Entry, error) {
	return a.list(ctx, f, ListStates)
}

func (a *Admin) list(ctx context.Context, f Filter, def []queue.State) ([]Entry, error) {
	var out []Entry
	err := a.each(ctx, f, def, func(e Entry) { out = append(out, e) })
	return out, err
}

// Each is List handing the entries to fn one at a time, so that listing
// a queue of any size takes constant memory (mailq).
func (a *Admin) Each(ctx context.Context, f Filter, fn func(Entry)) error {
	return a.each(ctx, f, ListStates, fn)
}

func (a *Admin) each(ctx context.Context, f Filter, def []queue.State, fn func(Entry)) error {
	states := f.States
	if states == nil {
		states = def
	}
	now := a.now()
	n := 0
	var stop error // ctx's end, or errLimit
	for _, st := range states {
		// The walk holds the IDs only (queue.Store.WalkIDs); each file
		// is read as it is reached, so a listing takes constant memory
		// per message.
		err := a.Store.WalkIDs(st, func(id queue.ID) bool {
			if stop = ctx.Err(); stop != nil {
				return false
			}
			e, ok := a.read(st, id)
			if !ok || (e.Unreadable == "" && !f.match(&e, now)) || (e.Unreadable != "" && !f.empty()) {
				return true
			}
			fn(e)
			if n++; f.Limit > 0 && n >= f.Limit {
				stop = errLimit
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if stop == errLimit {
			return nil
		}
		if stop != nil {
			return stop
		}
	}
	return nil
}

// errLimit ends a walk that reached the filter's limit.
var errLimit = errors.New("limit reached")

// empty reports a filter with no predicate (states and limit aside).
func (f *Filter) empty() bool {
	return f.Sender == "" && f.RcptDomain == "" && f.OlderThan == 0 && f.ReasonMatch == nil && f.Tenant == "" && f.Classes == nil
}

// read loads one entry; ok is false when the file vanished meanwhile.
func (a *Admin) read(st queue.State, id queue.ID) (Entry, bool) {
	m, err := a.Store.Read(st, id)
	if errors.Is(err, queue.ErrNotFound) {
		return Entry{}, false
	}
	if err != nil {
		return Entry{ID: id, State: st, Unreadable: err.Error()}, true
	}
	defer m.Close()
	return entryOf(m), true
}

// Selection names messages: explicit IDs, or a filter. IDs win when both
// are set.
type Selection struct {
	IDs    []queue.ID
	Filter Filter
}

// Select resolves sel to IDs. An invalid ID is an error: it never
// reaches a path.
func (a *Admin) Select(ctx context.Context, sel Selection) ([]queue.ID, error) {
	if len(sel.IDs) > 0 {
		for _, id := range sel.IDs {
			if !queue.Valid(string(id)) {
				return nil, fmt.Errorf("%q is not a queue ID", id)
			}
		}
		return sel.IDs, nil
	}
	ents, err := a.list(ctx, sel.Filter, ActStates)
	ids := make([]queue.ID, 0, len(ents))
	for _, e := range ents {
		if e.Unreadable == "" {
			ids = append(ids, e.ID)
		}
	}
	return ids, err
}
