// Command moonpost is the mail transfer agent: run with no arguments it
// starts the daemon on the embedded default configuration; its
// subcommands administer the queue. Invoked as sendmail, mailq or
// newaliases (by name or symlink) it behaves as those commands.
package main

import (
	"os"

	"github.com/moonpost/moonpost/cmd/internal/app"
)

func main() { os.Exit(app.Main(os.Args)) }
