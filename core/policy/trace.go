package policy

import (
	"context"
	"sync"
)

// Trace collects the decisions made under one context, with the script
// position that made each, so that `moonpost route` can say which line
// decided what (Postfix's sendmail -bv). A policy implementation adds to
// the trace it finds in the context and does nothing otherwise.
type Trace struct {
	mu    sync.Mutex
	steps []Step
}

// Step is one decision: the event ("cleanup", "rewrite", "alias",
// "transport"), where it was made ("30-virtual.lua:7") and what it was.
type Step struct {
	Event, Where, Outcome string
}

type traceKey struct{}

// WithTrace returns a context that collects decisions into a new Trace.
func WithTrace(ctx context.Context) (context.Context, *Trace) {
	t := &Trace{}
	return context.WithValue(ctx, traceKey{}, t), t
}

// TraceOf returns the context's Trace, or nil.
func TraceOf(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// Add records a decision; a nil Trace ignores it.
func (t *Trace) Add(event, where, outcome string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.steps = append(t.steps, Step{event, where, outcome})
	t.mu.Unlock()
}

// Take returns the decisions recorded since the last Take and forgets
// them.
func (t *Trace) Take() []Step {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.steps
	t.steps = nil
	return s
}
