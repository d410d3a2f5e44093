package qmgr

import (
	"context"
	"errors"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/queue"
)

// Shaper gives the egress policy of a destination (egress.Cache). It is
// called by the resolve workers for each job, never on the manager's
// goroutine, and must answer from its cache for every destination but
// the first of a generation. A nil Policy means the defaults.
type Shaper interface {
	Policy(ctx context.Context, transport, nexthop, tenant string) (*egress.Policy, error)
}

// egressUnavailable defers the mail of a destination whose egress
// policy failed: sending it unshaped could break the very limits the
// policy exists for. It is the hook failure rule (451 4.3.0).
var egressUnavailable = dsn.TempPolicy.WithText("egress policy temporarily unavailable, try again later")

// shape asks the Shaper for each job's policy, in the resolve worker.
// A job whose policy fails is not delivered: its recipients are
// recorded deferred here.
func (m *Manager) shape(msg *queue.Message, jobs []*job) []*job {
	if m.Egress == nil {
		return jobs
	}
	kept := jobs[:0]
	for _, j := range jobs {
		p, err := m.Egress.Policy(m.ctx, j.dest.Transport, j.dest.Nexthop, msg.Tenant)
		if err != nil {
			m.logEgressError(msg, j, err)
			for _, i := range j.rcpts {
				m.record(msg, i, resultFor(egressUnavailable, "none"), &j.dest)
			}
			continue
		}
		j.egress = p
		kept = append(kept, j)
	}
	return kept // a job marked whole is alone, so kept or dropped whole
}

// logEgressError logs what the hooks engine did not log already.
func (m *Manager) logEgressError(msg *queue.Message, j *job, err error) {
	var quiet interface{ Quiet() bool }
	if errors.As(err, &quiet) {
		return // the engine logs hook errors itself, paced
	}
	m.Log.Error("qmgr: egress policy failed, deferring", "queue_id", msg.ID,
		"destination", j.dest.Key(), "err", err)
}

// key is the destination queue of j: its next hop, split by site when
// the policy puts the next hop's tenants in different sites.
func (j *job) key() string {
	k := j.dest.Key()
	if j.egress != nil && j.egress.Site != "" {
		k += "\x00site=" + j.egress.Site
	}
	return k
}

// egressOf is what the agent is told of j's policy.
func egressOf(p *egress.Policy) *deliver.Egress {
	if p == nil {
		return nil
	}
	return &deliver.Egress{Site: p.Site, Source: p.Source, TLS: p.TLS,
		MaxDeliveriesPerConnection: p.MaxDeliveriesPerConnection, IdleTimeout: p.IdleTimeout}
}

// matchRule checks the replies of a delivery against the response
// rules, in the delivery goroutine. Only replies from a server count:
// the queue's own statuses (relay "none") never trigger a rule.
func matchRule(rules egress.Rules, res []deliver.Result) (*egress.Rule, string) {
	if len(rules) == 0 {
		return nil, ""
	}
	for _, r := range res {
		if r.Status == nil || r.Relay == "none" || r.Relay == "" {
			continue
		}
		reply := r.Status.Error()
		if rule := rules.Match(reply); rule != nil {
			return rule, reply
		}
	}
	return nil, ""
}

// applyRule acts on a matched rule, in the manager's goroutine.
func (m *Manager) applyRule(d *destination, j *job) {
	rule, now := j.rule, m.Clock.Now()
	until := now.Add(rule.For)
	switch {
	case rule.Action == egress.Slow:
		d.lane.cut, d.lane.cutUntil = rule.Rate, until
		m.Log.Warn("qmgr: response rule cuts the rate", "lane", d.lane.name, "rate", rule.Rate.String(),
			"until", until.Format(time.RFC3339), "reply", j.reply)
	case rule.Scope == egress.ScopeDestination:
		m.suspend(Suspension{Destination: d.key, Until: until, Reason: j.reply, By: "rule " + rule.Pattern.String()})
	default:
		s := Suspension{Until: until, Reason: j.reply, By: "rule " + rule.Pattern.String()}
		if site := d.site(); site != "" {
			s.Site = site
		} else {
			s.Destination = d.key
		}
		m.suspend(s)
	}
}
