package metrics

import "github.com/prometheus/client_golang/prometheus"

// WebhookFigures are one [[webhook]] sink's counters (webhook.Stats).
type WebhookFigures struct {
	Sent, Dropped, Failed int64 // events taken, events dropped, failed POSTs
	Batches               int   // batches waiting in the spool
	Bytes                 int64 // their size
}

var (
	descHookSent    = prometheus.NewDesc("moonpost_webhook_events_sent_total", "Delivery events a webhook receiver took (2xx).", []string{"webhook"}, nil)
	descHookDropped = prometheus.NewDesc("moonpost_webhook_events_dropped_total", "Delivery events dropped: the webhook's spool was full.", []string{"webhook"}, nil)
	descHookFailed  = prometheus.NewDesc("moonpost_webhook_post_failures_total", "Webhook POSTs that failed and will be retried.", []string{"webhook"}, nil)
	descHookBatches = prometheus.NewDesc("moonpost_webhook_spool_batches", "Webhook batches waiting in the spool.", []string{"webhook"}, nil)
	descHookBytes   = prometheus.NewDesc("moonpost_webhook_spool_bytes", "Bytes of webhook batches waiting in the spool.", []string{"webhook"}, nil)
)

var webhookDescs = []*prometheus.Desc{descHookSent, descHookDropped, descHookFailed, descHookBatches, descHookBytes}

func (c *collector) collectWebhooks(ch chan<- prometheus.Metric) {
	if c.src.Webhooks == nil {
		return
	}
	for name, f := range c.src.Webhooks() {
		ch <- prometheus.MustNewConstMetric(descHookSent, prometheus.CounterValue, float64(f.Sent), name)
		ch <- prometheus.MustNewConstMetric(descHookDropped, prometheus.CounterValue, float64(f.Dropped), name)
		ch <- prometheus.MustNewConstMetric(descHookFailed, prometheus.CounterValue, float64(f.Failed), name)
		ch <- prometheus.MustNewConstMetric(descHookBatches, prometheus.GaugeValue, float64(f.Batches), name)
		ch <- prometheus.MustNewConstMetric(descHookBytes, prometheus.GaugeValue, float64(f.Bytes), name)
	}
}
