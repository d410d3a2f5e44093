package sendmail

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moonpost/moonpost/core/queue"
)

// Options are the sendmail command-line options moonpost honours.
type Options struct {
	Config   string // -C: configuration file
	Sender   string // -f or -r, without angle brackets
	FullName string // -F
	Extract  bool   // -t: recipients from the header
	IgnDots  bool   // -i / -oi: a lone "." does not end input
	Mode     string // "bm" (default), "bs", "bp" or "bi"
	Notify   string // -N, upper case
	Ret      string // -R, upper case
	EnvID    string // -V
	Body     string // -B, upper case
	Rcpts    []string
	Verbose  bool // -v
}

// ErrBadAddress wraps Validate's refusal of an address (EX_DATAERR for
// the command, where other mistakes are usage errors).
var ErrBadAddress = errors.New("bad address")

// Parse reads Sendmail's option syntax: single-letter flags whose values
// may be attached (-fuser) or separate (-f user), -o options, and "--"
// before recipients that start with a dash.
func Parse(args []string) (*Options, error) {
	o := &Options{Mode: "bm"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.Rcpts = append(o.Rcpts, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.Rcpts = append(o.Rcpts, a)
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

func (o *Options) flag(a string, value func() (string, error)) (err error) {
	switch a[1] {
	case 'f', 'r':
		o.Sender, err = value()
		o.Sender = strings.Trim(o.Sender, "<>")
	case 'F':
		o.FullName, err = value()
	case 'C':
		o.Config, err = value()
	case 'N':
		o.Notify, err = value()
		o.Notify = strings.ToUpper(o.Notify)
	case 'R':
		o.Ret, err = value()
		o.Ret = strings.ToUpper(o.Ret)
	case 'V':
		o.EnvID, err = value()
	case 'B':
		o.Body, err = value()
		o.Body = strings.ToUpper(o.Body)
	case 't':
		o.Extract = true
	case 'i':
		o.IgnDots = true
	case 'v':
		o.Verbose = true
	case 'o':
		if a == "-oi" || a == "-oI" {
			o.IgnDots = true
		} // other -o options are accepted and ignored, as Postfix does
	case 'b':
		switch a {
		case "-bm", "-bs", "-bp", "-bi":
			o.Mode = a[1:]
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

// Validate checks what posting a message needs: recipients (or -t), the
// DSN words, and addresses that cannot smuggle a line or a bracket into
// the maildrop file. An address problem wraps ErrBadAddress.
func (o *Options) Validate() error {
	if len(o.Rcpts) == 0 && !o.Extract {
		return errors.New("recipient addresses must be given on the command line or with -t")
	}
	if o.Ret != "" && o.Ret != "FULL" && o.Ret != "HDRS" {
		return fmt.Errorf("-R %s: use full or hdrs", o.Ret)
	}
	if o.Body != "" && o.Body != "7BIT" && o.Body != "8BITMIME" {
		return fmt.Errorf("-B %s: use 7BIT or 8BITMIME", o.Body)
	}
	for _, a := range append([]string{o.Sender}, o.Rcpts...) {
		if strings.ContainsAny(a, "\x00\r\n<>") || len(a) > 512 {
			return fmt.Errorf("%w %q", ErrBadAddress, a)
		}
	}
	return nil
}

// Envelope is the maildrop envelope for these options; login is the
// sender when -f gave none. A recipient argument may list several
// addresses separated by commas ("a, b"), as many callers pass them.
func (o *Options) Envelope(login string) *queue.Envelope {
	env := &queue.Envelope{Sender: o.Sender, FullName: o.FullName, ExtractRcpts: o.Extract,
		Ret: o.Ret, EnvID: o.EnvID, BodyType: o.Body}
	if env.Sender == "" {
		env.Sender = login
	}
	for _, r := range o.Rcpts {
		for _, a := range strings.Split(r, ",") {
			if a = strings.TrimSpace(a); a != "" {
				env.Recipients = append(env.Recipients, queue.Recipient{Addr: a, Notify: o.Notify})
			}
		}
	}
	return env
}
