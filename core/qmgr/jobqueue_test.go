package qmgr

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/moonpost/moonpost/core/queue"
)

// tjob is a job of tenant name, told apart by seq (kept in rcpts).
func tjob(name string, seq int) *job {
	m := tenantMsgs[name]
	if m == nil {
		m = &queue.Message{}
		m.Tenant = name
		tenantMsgs[name] = m
	}
	return &job{am: &activeMsg{msg: m}, rcpts: []int{seq}}
}

// tenantMsgs holds one message per tenant for tjob; tests that use it
// do not run in parallel.
var tenantMsgs = map[string]*queue.Message{}

func (j *job) label() string { return fmt.Sprintf("%s-%d", j.tenant(), j.rcpts[0]) }

func popAll(q *jobQueue) []string {
	var out []string
	for q.len() > 0 {
		out = append(out, q.pop().label())
	}
	return out
}

func TestJobQueueFIFOWithinATenant(t *testing.T) {
	var q jobQueue
	for i := range 5 {
		q.push(tjob("", i))
	}
	got := fmt.Sprint(popAll(&q))
	if got != "[-0 -1 -2 -3 -4]" {
		t.Fatalf("order %s", got)
	}
	if q.len() != 0 || len(q.fair.tenants) != 0 || q.fair.cur != nil {
		t.Fatalf("not empty: %+v", q)
	}
}

// A flood of one tenant queued first does not hold back another
// tenant's job: it is served second, then the flood goes on.
func TestJobQueueFloodThenOther(t *testing.T) {
	var q jobQueue
	const n = 100000
	for i := range n {
		q.push(tjob("A", i))
	}
	q.push(tjob("B", 0))
	q.push(tjob("", 0)) // untenanted mail is a tenant of its own
	if q.len() != n+2 {
		t.Fatalf("len %d", q.len())
	}
	var got []string
	for range 4 {
		got = append(got, q.pop().label())
	}
	if fmt.Sprint(got) != "[A-0 B-0 -0 A-1]" {
		t.Fatalf("first starts %v", got)
	}
	for i := 2; q.len() > 0; i++ {
		if j := q.pop(); j.tenant() != "A" || j.rcpts[0] != i {
			t.Fatalf("start %d: %s", i+2, j.label())
		}
	}
}

// Turns alternate between the tenants waiting; a tenant that joins
// waits for the others' turns, not for their queues.
func TestJobQueueRoundRobin(t *testing.T) {
	var q jobQueue
	for i := range 3 {
		q.push(tjob("A", i))
		q.push(tjob("B", i))
	}
	first := q.pop() // A-0; B is next
	q.push(tjob("C", 0))
	got := fmt.Sprint(append([]string{first.label()}, popAll(&q)...))
	if got != "[A-0 B-0 A-1 C-0 B-1 A-2 B-2]" {
		t.Fatalf("order %s", got)
	}
}

// The fairness bound, over random pushes and pops: while a job waits,
// each other tenant is served at most once per job of its own tenant
// ahead of it, plus once: its share of the turns, whatever the sizes of
// the queues.
func TestJobQueueBoundedWait(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tenants := []string{"", "A", "B", "C", "D"}
	var q jobQueue
	type waiting struct {
		ahead  int            // jobs of its tenant queued before it
		served map[string]int // services per tenant when it was pushed
	}
	wait := map[*job]waiting{}
	queued, served := map[string]int{}, map[string]int{}
	seq := 0
	for step := 0; step < 200000; step++ {
		// Tenant A floods: half the pushes are its; pushes outnumber
		// pops, so its queue grows long.
		if q.len() == 0 || rng.IntN(5) < 3 {
			name := tenants[rng.IntN(len(tenants))]
			if rng.IntN(2) == 0 {
				name = "A"
			}
			j := tjob(name, seq)
			seq++
			wait[j] = waiting{ahead: queued[name], served: maps.Clone(served)}
			queued[name]++
			q.push(j)
			continue
		}
		j := q.pop()
		name := j.tenant()
		w := wait[j]
		delete(wait, j)
		for _, other := range tenants {
			if n := served[other] - w.served[other]; other != name && n > w.ahead+1 {
				t.Fatalf("step %d: %s waited through %d turns of %q with %d ahead", step, j.label(), n, other, w.ahead)
			}
		}
		queued[name]--
		served[name]++
	}
	if q.len() != len(wait) || q.len() < 1000 {
		t.Fatalf("len %d, %d waiting", q.len(), len(wait))
	}
}

func TestJobQueueDrop(t *testing.T) {
	var q jobQueue
	for i := range 4 {
		q.push(tjob("A", i))
		q.push(tjob("B", i))
		q.push(tjob("C", i))
	}
	q.pop() // A-0; B is next
	n := q.drop(func(j *job) bool {
		id := j.label()
		return id[0] == 'C' || id == "A-2" || id == "B-1"
	})
	if n != 6 || q.len() != 5 || len(q.fair.tenants) != 2 {
		t.Fatalf("dropped %d, len %d, tenants %d", n, q.len(), len(q.fair.tenants))
	}
	if got := fmt.Sprint(popAll(&q)); got != "[B-0 A-1 B-2 A-3 B-3]" {
		t.Fatalf("order after drop %s", got)
	}
	if q.drop(func(*job) bool { return true }) != 0 {
		t.Fatal("dropped from an empty queue")
	}
	q.push(tjob("A", 9))
	if q.drop(func(*job) bool { return true }) != 1 || q.len() != 0 || q.fair.cur != nil || len(q.fair.tenants) != 0 {
		t.Fatalf("drop of everything left %+v", q)
	}
}

// BenchmarkJobQueue is a push and a pop of a destination's queue holding
// about 10,000 jobs spread over the given number of tenants.
func BenchmarkJobQueue(b *testing.B) {
	for _, tenants := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			jobs := make([]*job, 10000)
			for i := range jobs {
				jobs[i] = tjob(fmt.Sprintf("t%d", i%tenants), i)
			}
			var q jobQueue
			for _, j := range jobs {
				q.push(j)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q.push(jobs[i%len(jobs)])
				q.pop()
			}
		})
	}
}
