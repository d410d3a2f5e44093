package tally

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the histograms of
// short operations (an fsync, a hook call, a DNS query): 100 µs to 10 s.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts durations into LatencyBuckets. The zero value is
// ready; it is safe for concurrent use and Observe does not allocate.
type Histogram struct {
	counts [17]atomic.Uint64 // one per bucket, then +Inf
	sumNS  atomic.Int64
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(int64(d))
}

// Since observes the time elapsed since start.
func (h *Histogram) Since(start time.Time) { h.Observe(time.Since(start)) }

// HistogramSnapshot is a Histogram read at one moment, in Prometheus'
// shape: cumulative counts by upper bound.
type HistogramSnapshot struct {
	Count   uint64
	Sum     float64            // seconds
	Buckets map[float64]uint64 // upper bound → observations at or below it
}

// Snapshot reads h. Concurrent observations may land in the buckets but
// not yet the sum, a skew of a few nanoseconds' worth.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Buckets: make(map[float64]uint64, len(LatencyBuckets))}
	var cum uint64
	for i, le := range LatencyBuckets {
		cum += h.counts[i].Load()
		s.Buckets[le] = cum
	}
	s.Count = cum + h.counts[len(LatencyBuckets)].Load()
	s.Sum = float64(h.sumNS.Load()) / 1e9
	return s
}
