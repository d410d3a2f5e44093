package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// sender POSTs the spooled batches oldest first, one at a time, until
// Close. A failure waits a backoff that doubles up to MaxBackoff and
// starts again at MinBackoff after a success.
func (s *Sink) sender() {
	backoff := s.cfg.MinBackoff
	for {
		b, body, ok, err := s.spool.oldest()
		switch {
		case err != nil:
			s.cfg.Log.Error("webhook: cannot read a spooled batch", "webhook", s.cfg.Name, "batch", b.name(), "err", err)
		case !ok:
			select {
			case <-s.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		default:
			err = s.post(body)
			if err == nil {
				s.sent.Add(countEvents(body))
				if err := s.spool.remove(b); err != nil {
					s.cfg.Log.Error("webhook: cannot remove a sent batch", "webhook", s.cfg.Name, "batch", b.name(), "err", err)
				}
				backoff = s.cfg.MinBackoff
				continue
			}
			s.failed.Add(1)
			n, bytes := s.spool.usage()
			s.cfg.Log.Warn("webhook: POST failed, retrying", "webhook", s.cfg.Name, "url", s.cfg.URL, "err", err,
				"retry_in", backoff, "batches", n, "bytes", bytes)
		}
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// post sends one batch; only a 2xx answer counts as taken.
func (s *Sink) post(body []byte) error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "moonpost-webhook")
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// countEvents is the number of events in a batch body.
func countEvents(body []byte) int64 {
	var evs []json.RawMessage
	if json.Unmarshal(body, &evs) != nil {
		return 0
	}
	return int64(len(evs))
}
