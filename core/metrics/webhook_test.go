package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWebhookMetrics(t *testing.T) {
	src := &Sources{Webhooks: func() map[string]WebhookFigures {
		return map[string]WebhookFigures{"crm": {Sent: 7, Dropped: 2, Failed: 3, Batches: 4, Bytes: 4096}}
	}}
	rec := httptest.NewRecorder()
	Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`moonpost_webhook_events_sent_total{webhook="crm"} 7`,
		`moonpost_webhook_events_dropped_total{webhook="crm"} 2`,
		`moonpost_webhook_post_failures_total{webhook="crm"} 3`,
		`moonpost_webhook_spool_batches{webhook="crm"} 4`,
		`moonpost_webhook_spool_bytes{webhook="crm"} 4096`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
