package app

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moonpost/moonpost/core/pickup"
	sendmailopt "github.com/moonpost/moonpost/core/pickup/sendmail"
	"github.com/moonpost/moonpost/core/queue"
)

// sendmail is the sendmail(1) command; its options and input are read
// by core/pickup/sendmail.
func sendmail(args []string) int {
	o, err := sendmailopt.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		return exUsage
	}
	switch o.Mode {
	case "bp":
		return queueList(configArgs(o.Config))
	case "bi":
		return newaliases(configArgs(o.Config))
	case "bs":
		return sendmailSMTP(o)
	}
	return sendmailPost(o, os.Stdin)
}

func configArgs(path string) []string {
	if path == "" {
		return nil
	}
	return []string{"-c", path}
}

// sendmailPost queues the message from stdin into the maildrop.
func sendmailPost(o *sendmailopt.Options, in io.Reader) int {
	if err := o.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		if errors.Is(err, sendmailopt.ErrBadAddress) {
			return exDataErr
		}
		return exUsage
	}
	cfg, err := loadConfig(o.Config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		return exConfig
	}
	body := sendmailopt.NewInput(in, o.IgnDots)
	id, err := pickup.Post(cfg.SpoolDir+"/", o.Envelope(pickup.LoginName()), body, cfg.Pickup.MaxSize)
	if err != nil {
		return postError(err, body)
	}
	if o.Verbose {
		fmt.Fprintf(os.Stderr, "sendmail: queued as %s\n", id)
	}
	return exOK
}

func postError(err error, body *sendmailopt.Input) int {
	switch {
	case body.Err() != nil:
		fmt.Fprintf(os.Stderr, "sendmail: reading input: %v\n", body.Err())
		return exIOErr
	case errors.Is(err, queue.ErrTooBig):
		fmt.Fprintln(os.Stderr, "sendmail: message too big")
		return exDataErr
	}
	fmt.Fprintf(os.Stderr, "sendmail: cannot queue the message: %v\n", err)
	return exTempFail
}
