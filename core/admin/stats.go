package admin

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

// Count is the number and total size of messages.
type Count struct {
	Messages int   `json:"messages"`
	Bytes    int64 `json:"bytes"`
}

// DomainCount is one line of the deferred-destinations table.
type DomainCount struct {
	Domain     string `json:"domain"`
	Messages   int    `json:"messages"`   // deferred messages with a pending recipient there
	Recipients int    `json:"recipients"` // pending recipients there
}

// Oldest names the message that arrived first.
type Oldest struct {
	ID      queue.ID    `json:"id"`
	State   queue.State `json:"state"`
	Arrival time.Time   `json:"arrival"`
	Age     string      `json:"age"`
}

// Stats is a qshape-like summary of the queue.
type Stats struct {
	States      map[queue.State]Count `json:"states"`
	Total       Count                 `json:"total"`
	TopDeferred []DomainCount         `json:"top_deferred"`
	Oldest      *Oldest               `json:"oldest,omitempty"`
}

// Stats counts every listed state (a stat per file) and reads deferred
// mail to rank its destinations; top bounds that table (0: 10).
func (a *Admin) Stats(ctx context.Context, top int) (*Stats, error) {
	if top <= 0 {
		top = 10
	}
	s := &Stats{States: map[queue.State]Count{}}
	for _, st := range append(ListStates, queue.Corrupt) {
		var c Count
		err := a.Store.Walk(st, func(e queue.Entry) bool {
			c.Messages++
			c.Bytes += e.Size
			if s.Oldest == nil || e.ID < s.Oldest.ID {
				s.Oldest = &Oldest{ID: e.ID, State: st}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		s.States[st] = c
		s.Total.Messages += c.Messages
		s.Total.Bytes += c.Bytes
	}
	if s.Oldest != nil {
		s.Oldest.Arrival = s.Oldest.ID.Time()
		s.Oldest.Age = a.now().Sub(s.Oldest.Arrival).Truncate(time.Second).String()
	}
	var err error
	s.TopDeferred, err = a.topDeferred(ctx, top)
	return s, err
}

func (a *Admin) topDeferred(ctx context.Context, top int) ([]DomainCount, error) {
	ents, err := a.list(ctx, Filter{States: []queue.State{queue.Deferred}}, nil)
	byDomain := map[string]*DomainCount{}
	for _, e := range ents {
		seen := map[string]bool{}
		for _, r := range e.Recipients {
			if r.State != "pending" {
				continue
			}
			d := strings.ToLower(domainOf(r.Addr))
			dc := byDomain[d]
			if dc == nil {
				dc = &DomainCount{Domain: d}
				byDomain[d] = dc
			}
			dc.Recipients++
			if !seen[d] {
				seen[d] = true
				dc.Messages++
			}
		}
	}
	out := make([]DomainCount, 0, len(byDomain))
	for _, dc := range byDomain {
		out = append(out, *dc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Messages != out[j].Messages {
			return out[i].Messages > out[j].Messages
		}
		return out[i].Domain < out[j].Domain
	})
	if len(out) > top {
		out = out[:top]
	}
	return out, err
}
