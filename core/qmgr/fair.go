package qmgr

// fairQueue holds items in the order they are to be served: round-robin
// over the tenants that have items queued, one item per tenant per turn,
// first come first served within a tenant (deficit round robin with a
// quantum of one item). A tenant that arrives joins at the end of the
// current turn, behind every tenant already waiting, so a tenant that
// keeps one item queued at a time gets no more than its share either.
// While an item waits, each other tenant is served at most once per
// item of its own tenant queued before it, plus once. Every operation
// costs O(1), except drop, which walks the queue.
//
// The queue manager keeps one for each destination's deliveries
// (jobQueue) and one for the mail waiting for room in the active set.
type fairQueue[T any] struct {
	tenants map[string]*tenantFIFO[T] // tenants with items queued
	// cur is the tenant to serve next; prev the one before it on the
	// circle (prev == cur when only one tenant waits); nil when empty.
	cur, prev *tenantFIFO[T]
	n         int // items queued in all
}

// tenantFIFO is one tenant's items, oldest first, linked into the circle
// of tenants that are waiting.
type tenantFIFO[T any] struct {
	name  string
	items []T
	next  *tenantFIFO[T]
}

func (q *fairQueue[T]) len() int { return q.n }

// push queues v as tenant's.
func (q *fairQueue[T]) push(tenant string, v T) {
	t := q.tenants[tenant]
	if t == nil {
		t = &tenantFIFO[T]{name: tenant}
		if q.tenants == nil {
			q.tenants = map[string]*tenantFIFO[T]{}
		}
		q.tenants[tenant] = t
		q.join(t)
	}
	t.items = append(t.items, v)
	q.n++
}

// join puts t on the circle just before cur: it is served after every
// tenant already waiting has had its turn.
func (q *fairQueue[T]) join(t *tenantFIFO[T]) {
	if q.cur == nil {
		t.next = t
		q.cur, q.prev = t, t
		return
	}
	t.next = q.cur
	q.prev.next = t
	q.prev = t
}

// pop removes and returns the item to serve next; the queue must not be
// empty.
func (q *fairQueue[T]) pop() T {
	t := q.cur
	v := t.items[0]
	var zero T
	t.items[0] = zero
	t.items = t.items[1:]
	q.n--
	if len(t.items) == 0 {
		q.leave(t)
	} else {
		q.prev, q.cur = t, t.next
	}
	return v
}

// leave takes cur, whose queue is empty, off the circle.
func (q *fairQueue[T]) leave(t *tenantFIFO[T]) {
	delete(q.tenants, t.name)
	if t.next == t {
		q.cur, q.prev = nil, nil
		return
	}
	q.prev.next = t.next
	q.cur = t.next
	t.next = nil
}

// drop removes every item for which gone reports true and returns how
// many it removed. The tenants left keep their places in the turn.
func (q *fairQueue[T]) drop(gone func(T) bool) int {
	if q.cur == nil {
		return 0
	}
	var kept []*tenantFIFO[T]
	n := 0
	t := q.cur
	for {
		n += t.drop(gone)
		if len(t.items) > 0 {
			kept = append(kept, t)
		} else {
			delete(q.tenants, t.name)
		}
		if t = t.next; t == q.cur {
			break
		}
	}
	q.n -= n
	q.cur, q.prev = nil, nil
	for _, t := range kept {
		q.join(t)
	}
	return n
}

func (t *tenantFIFO[T]) drop(gone func(T) bool) int {
	kept := t.items[:0]
	n := 0
	for _, v := range t.items {
		if gone(v) {
			n++
			continue
		}
		kept = append(kept, v)
	}
	clear(t.items[len(kept):])
	t.items = kept
	return n
}
