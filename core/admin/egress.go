package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/qmgr"
)

// Shaping is the part of the queue manager that suspends and shows the
// live shaping of destinations (qmgr.Manager). Each call runs on the
// manager's goroutine and returns once it is done there.
type Shaping interface {
	Suspend(ctx context.Context, s qmgr.Suspension) error
	Resume(ctx context.Context, site, domain string) (int, error)
	Suspensions(ctx context.Context) ([]qmgr.Suspension, error)
	Destinations(ctx context.Context) ([]qmgr.Shaping, error)
}

// SuspendSpec is an operator's suspension: a site or a domain, for how
// long ("1h", "30m", "2d"), and why.
type SuspendSpec struct {
	Site   string `json:"site,omitempty"`
	Domain string `json:"domain,omitempty"`
	For    string `json:"for"`
	Reason string `json:"reason,omitempty"`
}

// Resumed says how many suspensions a resume ended.
type Resumed struct {
	Resumed int `json:"resumed"`
}

func (a *Admin) shaping() (Shaping, error) {
	if s, ok := a.Manager.(Shaping); ok {
		return s, nil
	}
	return nil, ErrNoManager
}

// Suspend defers the mail of a site or a domain without trying it until
// the time is up (or Resume), and returns the suspension made.
func (a *Admin) Suspend(ctx context.Context, spec SuspendSpec) (*qmgr.Suspension, error) {
	s, err := a.shaping()
	if err != nil {
		return nil, err
	}
	if (spec.Site == "") == (spec.Domain == "") {
		return nil, errors.New("suspend: name a site or a domain (one of them)")
	}
	d, err := config.ParseDuration(spec.For)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("suspend: for %q: want a duration such as 1h, 30m or 2d", spec.For)
	}
	reason := spec.Reason
	if reason == "" {
		reason = "suspended by the operator"
	}
	sus := qmgr.Suspension{Site: spec.Site, Domain: spec.Domain, Until: a.now().Add(d), Reason: reason, By: "operator"}
	if err := s.Suspend(ctx, sus); err != nil {
		return nil, err
	}
	return &sus, nil
}

// Resume ends the suspensions of a site or a domain.
func (a *Admin) Resume(ctx context.Context, site, domain string) (*Resumed, error) {
	s, err := a.shaping()
	if err != nil {
		return nil, err
	}
	n, err := s.Resume(ctx, site, domain)
	if err != nil {
		return nil, err
	}
	return &Resumed{Resumed: n}, nil
}

// Suspensions lists the suspensions in force.
func (a *Admin) Suspensions(ctx context.Context) ([]qmgr.Suspension, error) {
	s, err := a.shaping()
	if err != nil {
		return nil, err
	}
	list, err := s.Suspensions(ctx)
	if list == nil {
		list = []qmgr.Suspension{}
	}
	return list, err
}

// Destinations shows each destination queue's live shaping: limits, in
// flight, rates, suspension.
func (a *Admin) Destinations(ctx context.Context) ([]qmgr.Shaping, error) {
	s, err := a.shaping()
	if err != nil {
		return nil, err
	}
	list, err := s.Destinations(ctx)
	if list == nil {
		list = []qmgr.Shaping{}
	}
	return list, err
}
