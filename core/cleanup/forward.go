package cleanup

import (
	"context"
	"io"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/queue"
)

// Forwarder resubmits alias expansions as a new message, as Postfix's
// local(8) does through cleanup: same sender, the expansion's addresses
// as recipients, and a Delivered-To naming the alias so a forwarding loop
// is caught by the next local delivery. The new message keeps the
// original's tenant (cleanup policy may still change it).
type Forwarder struct{ Cleanup *Cleanup }

// Forward implements local.Forwarder.
func (f Forwarder) Forward(ctx context.Context, req *deliver.Request, rcpt deliver.Recipient, targets []string) error {
	env := &queue.Envelope{Sender: req.Sender, EnvID: req.EnvID, Ret: req.Ret, BodyType: req.BodyType,
		SMTPUTF8: req.SMTPUTF8, Client: queue.Client{Name: "localhost", Proto: "LOCAL"}}
	env.Tenant = req.Tenant // an alias expansion stays with the original's tenant
	for _, t := range targets {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: t, Notify: rcpt.Notify, ORcpt: rcpt.ORcpt})
	}
	hdr := "Delivered-To: " + strings.Map(noCRLF, rcpt.Addr) + "\r\n"
	r := io.MultiReader(strings.NewReader(hdr), req.Content.Open())
	_, err := f.Cleanup.SubmitWith(ctx, env, r, Options{Forward: true})
	return err
}

func noCRLF(r rune) rune {
	if r == '\r' || r == '\n' {
		return -1
	}
	return r
}
