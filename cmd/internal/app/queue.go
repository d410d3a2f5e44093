package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

func queueCmd(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: moonpost queue list|show|hold|release|requeue|delete|bounce|flush|stats ...")
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
	}
	fmt.Fprintf(os.Stderr, "moonpost queue: unknown subcommand %q\n", args[0])
	return exUsage
}

// listedStates are shown by queue list, in mailq's order.
var listedStates = []queue.State{queue.Active, queue.Incoming, queue.Deferred, queue.Hold, queue.Maildrop}

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
}

type queueRcpt struct {
	Address string `json:"address"`
	Reason  string `json:"delay_reason,omitempty"`
	Class   string `json:"class,omitempty"` // bounce class of the last deferral
}

func queueList(args []string) int {
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	asJSON := fs.Bool("json", false, "one JSON object per line, like postqueue -j")
	sel, ok := listFilter(fs)
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	if !ok() {
		return exUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exConfig
	}
	store, err := queue.Open(cfg.SpoolDir, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: cannot open the spool: %v\n", err)
		return exTempFail
	}
	defer store.Close()
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer out.Flush()
	if *asJSON {
		enc := json.NewEncoder(out)
		eachItem(store, sel, func(it queueItem) { enc.Encode(it) })
		return exOK
	}
	p := &mailqPrinter{w: out}
	eachItem(store, sel, p.print)
	p.finish()
	return exOK
}

// eachItem reads every listed message's envelope and hands it to fn, one
// at a time, so listing a queue of any size takes constant memory. Files
// that vanish while listing (delivered meanwhile) are skipped; unreadable
// ones are shown as such but left for the daemon to quarantine.
func eachItem(store *queue.Store, sel *listSelection, fn func(queueItem)) {
	for _, st := range sel.states() {
		ids, _ := store.IDs(st)
		for _, id := range ids {
			m, err := store.Read(st, id)
			if errors.Is(err, queue.ErrNotFound) {
				continue
			}
			if err != nil {
				if sel.set {
					continue // a filter selects readable mail only, as admin.List does
				}
				fn(queueItem{ID: string(id), State: string(st), Sender: "(unreadable: " + err.Error() + ")"})
				continue
			}
			keep := sel.keep(m)
			it := itemOf(m)
			m.Close()
			if keep {
				fn(it)
			}
		}
	}
}

func itemOf(m *queue.Message) queueItem {
	it := queueItem{ID: string(m.ID), State: string(m.State), Arrival: m.Arrival.Unix(), Size: m.Size(),
		Sender: m.Sender, Attempts: m.Attempts, Hold: m.HoldReason}
	if !m.NextAttempt.IsZero() {
		it.Next = m.NextAttempt.Unix()
	}
	for _, r := range m.Recipients {
		if r.State.Done() {
			continue
		}
		it.Recipients = append(it.Recipients, queueRcpt{Address: r.Addr, Reason: r.Reason, Class: r.Class})
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
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exConfig
	}
	store, err := queue.Open(cfg.SpoolDir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exTempFail
	}
	defer store.Close()
	for _, st := range append(listedStates, queue.Corrupt) {
		m, err := store.Read(st, queue.ID(id))
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "moonpost: %s: %v\n", id, err)
			return exDataErr
		}
		defer m.Close()
		printMessage(os.Stdout, m)
		return exOK
	}
	fmt.Fprintf(os.Stderr, "moonpost: %s: no such message in the queue\n", id)
	return exNoInput
}

func printMessage(w io.Writer, m *queue.Message) {
	fmt.Fprintf(w, "*** ENVELOPE RECORDS %s/%s ***\n", m.State, m.ID)
	fmt.Fprintf(w, "message_size: %d\n", m.Size())
	fmt.Fprintf(w, "message_arrival_time: %s\n", m.Arrival.Format(time.RFC1123Z))
	c := m.Client
	fmt.Fprintf(w, "client: %s[%s] helo=%s proto=%s auth=%s\n", c.Name, c.Addr, c.Helo, c.Proto, c.AuthUser)
	fmt.Fprintf(w, "sender: %s\n", m.Sender)
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
