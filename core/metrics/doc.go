// Package metrics exposes the daemon's counters to Prometheus.
//
// Job: answer a scrape of /metrics with the engine's figures under
// Prometheus names (moonpost_..._total counters, gauges, _seconds
// histograms).
// Reads: counters the engine keeps anyway (qmgr.Stats, cleanup.Received,
// the hooks engine's generation) and the spool's directories, at scrape
// time, so the mail path pays nothing for a metric it already counts.
// The queue directory listing is cached for QueueTTL, so frequent scrapes
// of a large queue do not become a disk load of their own.
// Writes: nothing.
// Fails: a source that cannot be read (a queue directory that vanished)
// is left out of that scrape and logged at debug level; a scrape never
// fails as a whole.
package metrics
