package tally

import (
	"sort"
	"sync"
	"time"
)

// Other is the label of the counts of every key without a series of its
// own.
const Other = "other"

// Top counts events by key (a destination site, a tenant) with a bounded
// label set: at most N keys have a series of their own, the busiest
// ones, and everything else is counted under Other. Each key has Kinds
// counters (for instance sent, deferred, bounced).
//
// Which keys are the busiest is decided again at most once per Every,
// from the events since the last decision: a key that became busy gets
// its own series, starting at zero, and the quietest labelled key loses
// its series (its later events go to Other). Every series, Other
// included, only ever grows, so Prometheus never sees a counter reset;
// a key's series counts from when it got one, and sum() over the
// labels is the total since start.
type Top struct {
	N     int           // keys with a series of their own; 0: 20
	Kinds int           // counters per key; 0: 1
	Every time.Duration // how often the busiest are chosen again; 0: 1 min, <0: at every Snapshot

	mu      sync.Mutex
	rows    map[string]*topRow
	other   []uint64
	recent  map[string]uint64 // events since the last choice of keys without a series, at most 4N keys
	chosen  time.Time
	started bool
}

type topRow struct {
	counts []uint64
	recent uint64 // events since the last choice
}

func (t *Top) init() {
	if t.started {
		return
	}
	if t.N <= 0 {
		t.N = 20
	}
	if t.Kinds <= 0 {
		t.Kinds = 1
	}
	if t.Every == 0 {
		t.Every = time.Minute
	}
	t.rows = make(map[string]*topRow, t.N)
	t.other = make([]uint64, t.Kinds)
	t.recent = make(map[string]uint64, 4*t.N)
	t.chosen = time.Now()
	t.started = true
}

// Add counts one event of kind (0 ≤ kind < Kinds) for key. It allocates
// only the first time a key gets a series or is noticed.
func (t *Top) Add(key string, kind int) {
	t.mu.Lock()
	t.init()
	if r := t.rows[key]; r != nil {
		r.counts[kind]++
		r.recent++
		t.mu.Unlock()
		return
	}
	if len(t.rows) < t.N {
		r := &topRow{counts: make([]uint64, t.Kinds), recent: 1}
		r.counts[kind] = 1
		t.rows[key] = r
		t.mu.Unlock()
		return
	}
	t.other[kind]++
	if n, ok := t.recent[key]; ok {
		t.recent[key] = n + 1
	} else if len(t.recent) < 4*t.N {
		t.recent[key] = 1
	}
	t.mu.Unlock()
}

// Row is one series of a Snapshot.
type Row struct {
	Key    string
	Counts []uint64 // by kind
}

// Snapshot returns the labelled keys, in no particular order, and Other
// last (always present). It first chooses the busiest keys again when
// Every has passed.
func (t *Top) Snapshot() []Row {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	if now := time.Now(); t.Every < 0 || now.Sub(t.chosen) >= t.Every {
		t.choose()
		t.chosen = now
	}
	out := make([]Row, 0, len(t.rows)+1)
	for k, r := range t.rows {
		out = append(out, Row{Key: k, Counts: append([]uint64(nil), r.counts...)})
	}
	return append(out, Row{Key: Other, Counts: append([]uint64(nil), t.other...)})
}

// choose gives the busiest unlabelled keys of the last period the series
// of the quietest labelled ones, when they were busier. Called locked.
func (t *Top) choose() {
	type cand struct {
		key string
		n   uint64
	}
	var in []cand
	for k, n := range t.recent {
		in = append(in, cand{k, n})
	}
	sort.Slice(in, func(i, j int) bool { return in[i].n > in[j].n || in[i].n == in[j].n && in[i].key < in[j].key })
	var low []cand
	for k, r := range t.rows {
		low = append(low, cand{k, r.recent})
	}
	sort.Slice(low, func(i, j int) bool { return low[i].n < low[j].n || low[i].n == low[j].n && low[i].key > low[j].key })
	for i := 0; i < len(in) && i < len(low) && in[i].n > low[i].n; i++ {
		delete(t.rows, low[i].key)
		t.rows[in[i].key] = &topRow{counts: make([]uint64, t.Kinds)}
	}
	for _, r := range t.rows {
		r.recent = 0
	}
	clear(t.recent)
}
