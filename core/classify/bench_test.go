package classify

import "testing"

// BenchmarkClassify classifies each real reply once per iteration with
// the shipped rules: the cost the queue manager pays per failed
// recipient, reported per reply.
func BenchmarkClassify(b *testing.B) {
	rs := Default()
	for b.Loop() {
		for _, c := range realReplies {
			rs.Classify(c.st)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(realReplies)), "ns/reply")
}

// BenchmarkClassifyPlain is the same without the literal prefilters:
// every pattern runs until one matches.
func BenchmarkClassifyPlain(b *testing.B) {
	rs := Default()
	for b.Loop() {
		for _, c := range realReplies {
			rs.matchAll(c.st.Error())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(realReplies)), "ns/reply")
}
