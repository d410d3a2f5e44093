// Command sendmail is the sendmail-compatible entry point of moonpost; see
// docs/sendmail.md.
package main

import (
	"os"

	"github.com/moonpost/moonpost/cmd/internal/app"
)

func main() { os.Exit(app.Main(append([]string{"sendmail"}, os.Args[1:]...))) }
