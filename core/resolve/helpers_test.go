package resolve

import (
	"context"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

type routerFunc func() (policy.Route, error)

func (f routerFunc) Route(context.Context, string, *queue.Envelope) (policy.Route, error) { return f() }
