package control

import (
	"context"
	"errors"
)

// ReloadResult is what "moonpost reload" (and SIGHUP, in the log) says
// about a reload of moonpost.toml and the policy scripts.
type ReloadResult struct {
	Config string `json:"config"` // the file read; "" for the embedded default
	// Applied are the changed settings now in effect, by TOML key
	// ("queue.max_lifetime").
	Applied []string `json:"applied"`
	// Restart are the changed settings that take effect only at the next
	// start; until then the running values stay.
	Restart []string `json:"restart"`
	// Generation is the policy scripts' generation after the reload.
	Generation int `json:"generation,omitempty"`
}

// Reloader re-reads the configuration and applies what can change
// live. A configuration or scripts that fail to load leave the running
// ones in effect and come back as the error.
type Reloader func(ctx context.Context) (*ReloadResult, error)

func (s *Server) reload(ctx context.Context) (any, error) {
	if s.Reload == nil {
		return nil, errors.New("this daemon cannot reload")
	}
	return s.Reload(ctx)
}
