package qmgr

// jobQueue holds a destination's deliveries that have not started, in
// the order they are to be served: round-robin over the tenants that
// have jobs queued, one job per tenant per turn, first come first served
// within a tenant. Untenanted mail is the tenant "". So a tenant's flood
// to one domain does not starve another tenant's mail to it: a job
// waits behind at most one job of each other tenant queued there (plus
// the deliveries already in flight), however long their queues. It is
// deficit round robin with a quantum of one job, as KumoMTA keeps one
// scheduled queue per tenant and domain.
//
// A tenant that arrives joins at the end of the current turn, behind
// every tenant already waiting, so a tenant that keeps one job queued
// at a time gets no more than its share either. Each operation costs
// O(1), except drop, which walks the queue.
type jobQueue struct {
	tenants map[string]*tenantJobs // tenants with jobs queued
	// cur is the tenant to serve next; prev the one before it on the
	// circle (prev == cur when only one tenant waits); nil when empty.
	cur, prev *tenantJobs
	n         int // jobs queued in all
}

// tenantJobs is one tenant's jobs, oldest first, linked into the circle
// of tenants that are waiting.
type tenantJobs struct {
	name string
	jobs []*job
	next *tenantJobs
}

// tenant is the scheduling tenant of j: its message's, "" for none.
func (j *job) tenant() string {
	if j.am == nil || j.am.msg == nil {
		return ""
	}
	return j.am.msg.Tenant
}

func (q *jobQueue) len() int { return q.n }

func (q *jobQueue) push(j *job) {
	name := j.tenant()
	t := q.tenants[name]
	if t == nil {
		t = &tenantJobs{name: name}
		if q.tenants == nil {
			q.tenants = map[string]*tenantJobs{}
		}
		q.tenants[name] = t
		q.join(t)
	}
	t.jobs = append(t.jobs, j)
	q.n++
}

// join puts t on the circle just before cur: it is served after every
// tenant already waiting has had its turn.
func (q *jobQueue) join(t *tenantJobs) {
	if q.cur == nil {
		t.next = t
		q.cur, q.prev = t, t
		return
	}
	t.next = q.cur
	q.prev.next = t
	q.prev = t
}

// pop removes and returns the job to serve next; the queue must not be
// empty.
func (q *jobQueue) pop() *job {
	t := q.cur
	j := t.jobs[0]
	t.jobs[0] = nil
	t.jobs = t.jobs[1:]
	q.n--
	if len(t.jobs) == 0 {
		q.leave(t)
	} else {
		q.prev, q.cur = t, t.next
	}
	return j
}

// leave takes cur, whose queue is empty, off the circle.
func (q *jobQueue) leave(t *tenantJobs) {
	delete(q.tenants, t.name)
	if t.next == t {
		q.cur, q.prev = nil, nil
		return
	}
	q.prev.next = t.next
	q.cur = t.next
	t.next = nil
}

// drop removes every job for which gone reports true and returns how
// many it removed. The tenants left keep their places in the turn.
func (q *jobQueue) drop(gone func(*job) bool) int {
	if q.cur == nil {
		return 0
	}
	var kept []*tenantJobs
	n := 0
	t := q.cur
	for {
		n += t.drop(gone)
		if len(t.jobs) > 0 {
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

func (t *tenantJobs) drop(gone func(*job) bool) int {
	kept := t.jobs[:0]
	n := 0
	for _, j := range t.jobs {
		if gone(j) {
			n++
			continue
		}
		kept = append(kept, j)
	}
	clear(t.jobs[len(kept):])
	t.jobs = kept
	return n
}
