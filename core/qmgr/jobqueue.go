package qmgr

// jobQueue holds a destination's deliveries that have not started, in
// the order they are to be served.
type jobQueue struct {
	jobs []*job
}

func (q *jobQueue) len() int { return len(q.jobs) }

func (q *jobQueue) push(j *job) { q.jobs = append(q.jobs, j) }

// pop removes and returns the job to serve next; the queue must not be
// empty.
func (q *jobQueue) pop() *job {
	j := q.jobs[0]
	q.jobs[0] = nil
	q.jobs = q.jobs[1:]
	return j
}

// drop removes every job for which gone reports true and returns how
// many it removed.
func (q *jobQueue) drop(gone func(*job) bool) int {
	kept := q.jobs[:0]
	n := 0
	for _, j := range q.jobs {
		if gone(j) {
			n++
			continue
		}
		kept = append(kept, j)
	}
	clear(q.jobs[len(kept):])
	q.jobs = kept
	return n
}
