package qmgr

// jobQueue holds a destination's deliveries that have not started, in
// the order they are to be served: round-robin over the tenants that
// have jobs queued, first come first served within a tenant (fairQueue).
// Untenanted mail is the tenant "". So a tenant's flood to one domain
// does not starve another tenant's mail to it: a job waits behind at
// most one job of each other tenant queued there per job of its own
// tenant ahead of it, plus the deliveries already in flight, however
// long the other queues are. KumoMTA likewise keeps one scheduled queue
// per tenant and domain.
type jobQueue struct {
	fair fairQueue[*job]
}

// tenant is the scheduling tenant of j: its message's, "" for none.
func (j *job) tenant() string {
	if j.am == nil || j.am.msg == nil {
		return ""
	}
	return j.am.msg.Tenant
}

func (q *jobQueue) len() int { return q.fair.len() }

func (q *jobQueue) push(j *job) { q.fair.push(j.tenant(), j) }

// pop removes and returns the job to serve next; the queue must not be
// empty.
func (q *jobQueue) pop() *job { return q.fair.pop() }

// drop removes every job for which gone reports true and returns how
// many it removed.
func (q *jobQueue) drop(gone func(*job) bool) int { return q.fair.drop(gone) }
