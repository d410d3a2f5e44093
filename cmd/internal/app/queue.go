package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/queue"
)

func queueCmd(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: moonpost queue list|show|hold|release|requeue|delete|bounce|flush|stats|suspend|resume|suspensions|destinations ...")
		return exUsage
	}
	switch args[0] {
	case "list", "ls":
		return queueList(args[1:])
	case "show", "cat":
		return queueShow(args[1:])
	case "hold", "release", "requeue", "delete", "bounce":
		return queueAction(args[0], args[1:])
	case "flush":
		return queueFlush(args[1:])
	case "stats":
		return queueStats(args[1:])
	case "suspend", "resume", "suspensions", "destinations":
		return queueShaping(args[0], args[1:])
	}
	fmt.Fprintf(os.Stderr, "moonpost queue: unknown subcommand %q\n", args[0])
	return exUsage
}

// queueItem is one line of queue list --json (postqueue -j's fields).
type queueItem struct {
	ID         string      `json:"queue_id"`
	State      string      `json:"queue_name"`
	Arrival    int64       `json:"arrival_time"`
	Size       int64       `json:"message_size"`
	Sender     string      `json:"sender"`
	Recipients []queueRcpt `json:"recipients"`
	Attempts   int         `json:"attempts,omitempty"`
	Next       int64       `json:"next_attempt,omitempty"`
	Hold       string      `json:"hold_reason,omitempty"`
	Tenant     string      `json:"tenant,omitempty"`
}

type queueRcpt struct {
	Address string `json:"address"`
	Reason  string `json:"delay_reason,omitempty"`
	Class   string `json:"class,omitempty"` // bounce class of the last deferral
}

// queueList is "moonpost queue list [--json] [--filter key=value...]":
// the listing and the filters are core/admin's, as for the actions and
// the HTTP API, read here from the spool files so that it works with the
// daemon down.
func queueList(args []string) int {
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	asJSON := fs.Bool("json", false, "one JSON object per line, like postqueue -j")
	var filter filterFlag
	fs.Var(&filter, "filter", "select by `key=value` (state, sender, rcpt_domain, older_than, reason_match, class, tenant, limit); repeatable")
	tenant := fs.String("tenant", "", "only the messages of this `tenant` (as --filter tenant=...)")
	class := fs.String("class", "", "only messages with a recipient whose last failure is of this bounce `class` (as --filter class=...)")
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	for key, v := range map[string]string{"tenant": *tenant, "class": *class} {
		if v == "" {
			continue
		}
		if err := filter.Set(key + "=" + v); err != nil {
			fmt.Fprintln(os.Stderr, "moonpost:", err)
			return exUsage
		}
	}
	f, err := filter.spec.Compile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exUsage
	}
	store, rc := openSpool(*cfgPath)
	if store == nil {
		return rc
	}
	defer store.Close()
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer out.Flush()
	p := &mailqPrinter{w: out}
	show := p.print
	if *asJSON {
		enc := json.NewEncoder(out)
		show = func(it queueItem) { enc.Encode(it) }
	}
	err = (&admin.Admin{Store: store}).Each(context.Background(), f, func(e admin.Entry) { show(itemOf(e)) })
	if !*asJSON {
		p.finish()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	return exOK
}

// openSpool opens the spool of the configuration at cfgPath for the
// commands that read it directly (they work with the daemon down); a
// nil store comes with the exit code, the error already printed.
func openSpool(cfgPath string) (*queue.Store, int) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return nil, exConfig
	}
	store, err := queue.Open(cfg.SpoolDir, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: cannot open the spool: %v\n", err)
		return nil, exTempFail
	}
	return store, exOK
}

// itemOf is an entry in postqueue -j's terms: the recipients still to
// deliver, with their last deferral reason. A file that does not parse
// is shown as such and left for the daemon to quarantine.
func itemOf(e admin.Entry) queueItem {
	it := queueItem{ID: string(e.ID), State: string(e.State), Arrival: e.Arrival.Unix(), Size: e.Size,
		Sender: e.Sender, Attempts: e.Attempts, Hold: e.HoldReason, Tenant: e.Tenant}
	if e.Unreadable != "" {
		it.Arrival, it.Sender = 0, "(unreadable: "+e.Unreadable+")"
	}
	if !e.NextAttempt.IsZero() {
		it.Next = e.NextAttempt.Unix()
	}
	for _, r := range e.Recipients {
		if r.State == "pending" {
			it.Recipients = append(it.Recipients, queueRcpt{Address: r.Addr, Reason: r.Reason, Class: r.Class})
		}
	}
	return it
}

// mailqPrinter prints Postfix mailq's layout: "*" marks active mail, "!"
// held mail, deferral reasons in parentheses above their recipients.
type mailqPrinter struct {
	w     io.Writer
	n     int
	total int64
}

func (p *mailqPrinter) print(it queueItem) {
	if p.n == 0 {
		fmt.Fprintf(p.w, "%-20s %8s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------")
	}
	p.n++
	p.total += it.Size
	mark := map[string]string{"active": "*", "hold": "!"}[it.State]
	arr := time.Unix(it.Arrival, 0).Format("Mon Jan _2 15:04:05")
	sender := it.Sender
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	fmt.Fprintf(p.w, "%-20s %8d %-20s %s\n", it.ID+mark, it.Size, arr, sender)
	if it.Hold != "" {
		fmt.Fprintf(p.w, "%51s(held: %s)\n", "", it.Hold)
	}
	last := ""
	for _, r := range it.Recipients {
		if r.Reason != "" && r.Reason != last {
			fmt.Fprintf(p.w, "%51s(%s)\n", "", r.Reason)
			last = r.Reason
		}
		fmt.Fprintf(p.w, "%51s%s\n", "", r.Address)
	}
	fmt.Fprintln(p.w)
}

func (p *mailqPrinter) finish() {
	if p.n == 0 {
		fmt.Fprintln(p.w, "Mail queue is empty")
		return
	}
	fmt.Fprintf(p.w, "-- %d Kbytes in %d Request%s.\n", (p.total+1023)/1024, p.n, plural(p.n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// queueShow prints one message like postcat: envelope, then content.
func queueShow(args []string) int {
	cfgPath, rest, err := configFlag(args)
	if err != nil || len(rest) != 1 {
		fmt.Fprintln(os.Stderr, "usage: moonpost queue show [-c file] ID")
		return exUsage
	}
	id := strings.TrimRight(rest[0], "*!")
	if !queue.Valid(id) {
		fmt.Fprintf(os.Stderr, "moonpost: %q is not a queue ID\n", id)
		return exDataErr
	}
	store, rc := openSpool(cfgPath)
	if store == nil {
		return rc
	}
	defer store.Close()
	m, err := (&admin.Admin{Store: store}).Open(queue.ID(id))
	if errors.Is(err, queue.ErrNotFound) {
		fmt.Fprintf(os.Stderr, "moonpost: %s: no such message in the queue\n", id)
		return exNoInput
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: %s: %v\n", id, err)
		return exDataErr
	}
	defer m.Close()
	printMessage(os.Stdout, m)
	return exOK
}

func printMessage(w io.Writer, m *queue.Message) {
	fmt.Fprintf(w, "*** ENVELOPE RECORDS %s/%s ***\n", m.State, m.ID)
	fmt.Fprintf(w, "message_size: %d\n", m.Size())
	fmt.Fprintf(w, "message_arrival_time: %s\n", m.Arrival.Format(time.RFC1123Z))
	c := m.Client
	fmt.Fprintf(w, "client: %s[%s] helo=%s proto=%s auth=%s\n", c.Name, c.Addr, c.Helo, c.Proto, c.AuthUser)
	fmt.Fprintf(w, "sender: %s\n", m.Sender)
	if m.Tenant != "" {
		fmt.Fprintf(w, "tenant: %s\n", m.Tenant)
	}
	if m.EnvID != "" || m.Ret != "" {
		fmt.Fprintf(w, "dsn_envid: %s\ndsn_ret: %s\n", m.EnvID, m.Ret)
	}
	for _, r := range m.Recipients {
		state := map[queue.RcptState]string{queue.Pending: "pending", queue.Delivered: "done", queue.Failed: "failed"}[r.State]
		fmt.Fprintf(w, "recipient: %s (%s)", r.Addr, state)
		if r.Reason != "" {
			fmt.Fprintf(w, " %s", r.Reason)
		}
		if r.Class != "" {
			fmt.Fprintf(w, " [class=%s]", r.Class)
		}
		fmt.Fprintln(w)
	}
	if m.Attempts > 0 {
		fmt.Fprintf(w, "attempts: %d next: %s\n", m.Attempts, m.NextAttempt.Format(time.RFC1123Z))
	}
	if m.HoldReason != "" {
		fmt.Fprintf(w, "hold_reason: %s\n", m.HoldReason)
	}
	fmt.Fprintln(w, "*** MESSAGE CONTENTS ***")
	io.Copy(w, m.Open())
	fmt.Fprintln(w, "*** END OF MESSAGE ***")
}
