package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moonpost/moonpost/core/pickup"
	"github.com/moonpost/moonpost/core/queue"
)

// sendmailOpts are the sendmail command-line options moonpost honours.
type sendmailOpts struct {
	config   string
	sender   string // -f
	fullName string // -F
	extract  bool   // -t
	ignDots  bool   // -i / -oi: a lone "." does not end input
	mode     string // -bm (default), -bs, -bp, -bi
	notify   string // -N
	ret      string // -R
	envID    string // -V
	body     string // -B
	rcpts    []string
	verbose  bool
}

func sendmail(args []string) int {
	o, err := parseSendmail(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		return exUsage
	}
	switch o.mode {
	case "bp":
		return queueList(configArgs(o.config))
	case "bi":
		return newaliases(configArgs(o.config))
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

// parseSendmail reads Sendmail's option syntax: single-letter flags whose
// values may be attached (-fuser) or separate (-f user), and -o options.
func parseSendmail(args []string) (*sendmailOpts, error) {
	o := &sendmailOpts{mode: "bm"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.rcpts = append(o.rcpts, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.rcpts = append(o.rcpts, a)
			continue
		}
		value := func() (string, error) {
			if len(a) > 2 {
				return a[2:], nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		if err := o.flag(a, value); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *sendmailOpts) flag(a string, value func() (string, error)) (err error) {
	switch a[1] {
	case 'f', 'r':
		o.sender, err = value()
		o.sender = strings.Trim(o.sender, "<>")
	case 'F':
		o.fullName, err = value()
	case 'C':
		o.config, err = value()
	case 'N':
		o.notify, err = value()
		o.notify = strings.ToUpper(o.notify)
	case 'R':
		o.ret, err = value()
		o.ret = strings.ToUpper(o.ret)
	case 'V':
		o.envID, err = value()
	case 'B':
		o.body, err = value()
		o.body = strings.ToUpper(o.body)
	case 't':
		o.extract = true
	case 'i':
		o.ignDots = true
	case 'v':
		o.verbose = true
	case 'o':
		if a == "-oi" || a == "-oI" {
			o.ignDots = true
		} // other -o options are accepted and ignored, as Postfix does
	case 'b':
		switch a {
		case "-bm", "-bs", "-bp", "-bi":
			o.mode = a[1:]
		default:
			return fmt.Errorf("unsupported mode %s", a)
		}
	case 'L', 'X', 'O', 'q', 'U', 'n', 'm', 'e', 'A', 'h', 'd', 'G':
		// Accepted for compatibility; -q runs nothing (the daemon's
		// queue manager flushes), the rest have no meaning here.
	default:
		return fmt.Errorf("unknown option %s", a)
	}
	return err
}

func (o *sendmailOpts) validate() error {
	if len(o.rcpts) == 0 && !o.extract {
		return errors.New("recipient addresses must be given on the command line or with -t")
	}
	if o.ret != "" && o.ret != "FULL" && o.ret != "HDRS" {
		return fmt.Errorf("-R %s: use full or hdrs", o.ret)
	}
	if o.body != "" && o.body != "7BIT" && o.body != "8BITMIME" {
		return fmt.Errorf("-B %s: use 7BIT or 8BITMIME", o.body)
	}
	for _, a := range append([]string{o.sender}, o.rcpts...) {
		if strings.ContainsAny(a, "\x00\r\n<>") || len(a) > 512 {
			return fmt.Errorf("bad address %q", a)
		}
	}
	return nil
}

// sendmailPost queues the message from stdin into the maildrop.
func sendmailPost(o *sendmailOpts, in io.Reader) int {
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		if strings.HasPrefix(err.Error(), "bad address") {
			return exDataErr
		}
		return exUsage
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sendmail: %v\n", err)
		return exConfig
	}
	env := &queue.Envelope{Sender: o.sender, FullName: o.fullName, ExtractRcpts: o.extract,
		Ret: o.ret, EnvID: o.envID, BodyType: o.body}
	if env.Sender == "" {
		env.Sender = pickup.LoginName()
	}
	for _, r := range o.rcpts {
		for _, a := range strings.Split(r, ",") { // "a, b" is one argument to many callers
			if a = strings.TrimSpace(a); a != "" {
				env.Recipients = append(env.Recipients, queue.Recipient{Addr: a, Notify: o.notify})
			}
		}
	}
	body := newInputReader(in, o.ignDots)
	id, err := pickup.Post(cfg.SpoolDir+"/", env, body, cfg.Pickup.MaxSize)
	if err != nil {
		return postError(err, body)
	}
	if o.verbose {
		fmt.Fprintf(os.Stderr, "sendmail: queued as %s\n", id)
	}
	return exOK
}

func postError(err error, body *inputReader) int {
	switch {
	case body.err != nil:
		fmt.Fprintf(os.Stderr, "sendmail: reading input: %v\n", body.err)
		return exIOErr
	case errors.Is(err, queue.ErrTooBig):
		fmt.Fprintln(os.Stderr, "sendmail: message too big")
		return exDataErr
	}
	fmt.Fprintf(os.Stderr, "sendmail: cannot queue the message: %v\n", err)
	return exTempFail
}

// inputReader streams stdin as the message: a leading mbox "From " line
// is dropped, and unless -i a line holding only "." ends the input.
type inputReader struct {
	br      *bufio.Reader
	ignDots bool
	first   bool
	mid     bool // inside a line longer than the buffer
	done    bool
	buf     []byte
	err     error // a read error other than EOF: the message is refused
}

func newInputReader(r io.Reader, ignDots bool) *inputReader {
	return &inputReader{br: bufio.NewReaderSize(r, 64<<10), ignDots: ignDots, first: true}
}

func (r *inputReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done && r.err != nil {
			return 0, r.err // never let a truncated message look complete
		}
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *inputReader) fill() {
	line, err := r.br.ReadSlice('\n')
	mid := r.mid
	r.mid = err == bufio.ErrBufferFull
	if r.mid || mid {
		r.first = false
		r.buf = append(r.buf[:0], line...)
		return
	}
	first := r.first
	r.first = false
	switch {
	case err != nil && err != io.EOF:
		r.err, r.done = err, true
		return
	case err == io.EOF:
		r.done = true
	}
	trimmed := strings.TrimRight(string(line), "\r\n")
	if first && strings.HasPrefix(trimmed, "From ") {
		return
	}
	if !r.ignDots && trimmed == "." && len(line) > 1 {
		r.done = true
		return
	}
	r.buf = append(r.buf[:0], line...)
}
