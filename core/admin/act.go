package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// Result reports a bulk action. In a dry run only Op, DryRun, Count and
// IDs are set: what the action would touch.
type Result struct {
	Op        string     `json:"op"`
	DryRun    bool       `json:"dry_run,omitempty"`
	Count     int        `json:"count"` // messages selected
	IDs       []queue.ID `json:"ids"`
	Applied   int        `json:"applied"`   // done on the file
	Marked    int        `json:"marked"`    // being delivered: done when the delivery returns
	Unchanged int        `json:"unchanged"` // nothing to do (already held, not held, ...)
	Gone      int        `json:"gone"`      // delivered or removed since selected
	Errors    []string   `json:"errors,omitempty"`
}

// ParseOp maps an action name to its operation.
func ParseOp(name string) (qmgr.Op, bool) {
	for _, op := range []qmgr.Op{qmgr.OpHold, qmgr.OpRelease, qmgr.OpRequeue, qmgr.OpDelete, qmgr.OpBounce} {
		if op.String() == name {
			return op, true
		}
	}
	return 0, false
}

// Do applies op to every message sel selects; text is the hold reason or
// the bounce text. With dryRun it only selects. It stops early, with
// the partial Result, when ctx ends.
func (a *Admin) Do(ctx context.Context, op qmgr.Op, sel Selection, text string, dryRun bool) (*Result, error) {
	if !dryRun && a.Manager == nil {
		return nil, ErrNoManager
	}
	ids, err := a.Select(ctx, sel)
	if err != nil {
		return nil, err
	}
	r := &Result{Op: op.String(), DryRun: dryRun, Count: len(ids), IDs: ids}
	if dryRun {
		return r, nil
	}
	for _, id := range ids {
		_, out, err := a.Manager.Apply(ctx, id, op, text)
		switch {
		case errors.Is(err, queue.ErrNotFound):
			r.Gone++
		case err != nil:
			if ctx.Err() != nil {
				return r, err
			}
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", id, err))
		case out == qmgr.Applied:
			r.Applied++
		case out == qmgr.Marked:
			r.Marked++
		default:
			r.Unchanged++
		}
	}
	return r, nil
}

// Flush retries deferred mail now: all of it when domain is "", else the
// messages with a pending recipient in domain (re-resolved with the
// current scripts).
func (a *Admin) Flush(ctx context.Context, domain string, dryRun bool) (*Result, error) {
	if domain != "" || dryRun {
		f := Filter{States: []queue.State{queue.Deferred}}
		if domain != "" {
			var err error
			if f, err = (Spec{State: []string{"deferred"}, RcptDomain: domain}).Compile(); err != nil {
				return nil, err
			}
		}
		r, err := a.Do(ctx, qmgr.OpRequeue, Selection{Filter: f}, "", dryRun)
		if r != nil {
			r.Op = "flush"
		}
		return r, err
	}
	if a.Manager == nil {
		return nil, ErrNoManager
	}
	n := a.Manager.Flush(ctx)
	return &Result{Op: "flush", Count: n, Applied: n}, ctx.Err()
}
