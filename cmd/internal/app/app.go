// Package app implements the moonpost command line: the daemon, the
// administration subcommands and the sendmail-compatible entry points.
package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moonpost/moonpost/core/config"
)

// Exit codes from sysexits.h, used by every entry point.
const (
	exOK       = 0
	exUsage    = 64
	exDataErr  = 65
	exNoInput  = 66
	exSoftware = 70
	exIOErr    = 74
	exTempFail = 75
	exConfig   = 78
)

// Main runs the command named by args[0] and returns its exit code.
func Main(args []string) int {
	switch filepath.Base(args[0]) {
	case "sendmail":
		return sendmail(args[1:])
	case "mailq":
		return queueList(args[1:])
	case "newaliases":
		return newaliases(args[1:])
	}
	global, words := leadingConfigFlags(args[1:])
	if len(words) == 0 || strings.HasPrefix(words[0], "-") && !isHelp(words[0]) {
		return daemon(args[1:])
	}
	// A configuration flag given before the subcommand belongs to it:
	// "moonpost -c FILE route X" runs route with -c FILE.
	cmd, rest := words[0], append(global, words[1:]...)
	switch cmd {
	case "run", "start":
		return daemon(rest)
	case "check":
		return check(rest)
	case "queue":
		return queueCmd(rest)
	case "route":
		return routeCmd(rest)
	case "policy":
		return policyCmd(rest)
	case "repl":
		return repl(rest)
	case "passwd":
		return passwd(rest)
	case "status":
		return status(rest)
	case "reload":
		return reloadCmd(rest)
	case "top":
		return topCmd(rest)
	case "dkim":
		return dkimCmd(rest)
	case "scripts":
		return scriptsCmd(rest)
	case "classify":
		return classifyCmd(rest)
	case "sendmail", "mailq", "newaliases":
		return Main(append([]string{cmd}, rest...))
	case "help", "-h", "--help", "-help":
		usage()
		return exOK
	}
	fmt.Fprintf(os.Stderr, "moonpost: unknown command %q\n", cmd)
	usage()
	return exUsage
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  moonpost [-c moonpost.toml] [--listen ADDR] [--spool DIR]
                                       start the daemon (embedded default without -c)
  moonpost check [-c file]             validate the configuration and scripts
  moonpost route ADDRESS [--sender S] [--header H]  show what happens to mail for ADDRESS
  moonpost policy diff DIR [--sample FILE]  what the scripts in DIR would decide differently
  moonpost queue list [--json] [--class NAME] [--filter key=value...]
                                       list the queue, like mailq
  moonpost queue show ID               print a queued message, like postcat
  moonpost queue hold|release|requeue|delete|bounce [--dry-run] [--reason TEXT]
                 ID... | - | --filter key=value...
                                       act on queued mail through the daemon
  moonpost queue flush [DOMAIN]        retry deferred mail now
  moonpost queue stats [--json]        counts per queue, top deferred domains
  moonpost repl [-e CODE]              Lua prompt inside the daemon (also < file.lua)
  moonpost status [--json]             uptime, listeners, scripts, queue counts
  moonpost top [--interval 1s] [--once]
                                       live view: rates, queue sizes, busiest destinations
  moonpost reload [--json]             re-read moonpost.toml and the scripts in the
                                       daemon; says what needs a restart (also SIGHUP)
  moonpost passwd USER < password      print a smtpd.password_file line
  moonpost dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--out FILE]
                                       write a DKIM key, print its DNS record
  moonpost dkim check DOMAIN SELECTOR [--key FILE]
                                       compare the published record with the key
  moonpost scripts export [--force] DIR
                                       write the embedded default scripts to DIR
                                       (then set hooks.dir = DIR to edit them)
  moonpost classify [-c file] REPLY... | - | --defaults
                                       the bounce class of a reply, and the rule that gave it
  moonpost sendmail [options] rcpt...  submit mail (also as "sendmail")
  moonpost mailq                       same as "queue list"
  moonpost newaliases                  check the aliases file
The configuration file is -c FILE, else $MOONPOST_CONFIG, else ./moonpost.toml
if present, else the embedded default (spool in ./spool, SMTP on 127.0.0.1:2525).
`)
}

// leadingConfigFlags splits off the "-c FILE" / "--config=FILE" flags
// that stand before the first other word, so a subcommand after them is
// still recognised.
func leadingConfigFlags(args []string) (flags, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-c" || a == "--config" || a == "-C") && i+1 < len(args):
			flags = append(flags, a, args[i+1])
			i++
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-c="):
			flags = append(flags, a)
		default:
			return flags, args[i:]
		}
	}
	return flags, nil
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// loadConfig finds and loads the configuration as usage describes.
func loadConfig(explicit string) (*config.Config, error) { return loadConfigWith(explicit, nil) }

func loadConfigWith(explicit string, override func(*config.Config)) (*config.Config, error) {
	path := explicit
	if path == "" {
		path = os.Getenv("MOONPOST_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat("moonpost.toml"); err == nil {
			path = "moonpost.toml"
		}
	}
	return config.LoadWith(path, override)
}

// configFlag extracts "-c FILE" / "--config FILE" from args.
func configFlag(args []string) (path string, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c" || a == "--config" || a == "-C":
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("%s needs a file", a)
			}
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--config="):
			path = strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-c="):
			path = strings.TrimPrefix(a, "-c=")
		default:
			rest = append(rest, a)
		}
	}
	return path, rest, nil
}
