package app

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/moonpost/moonpost/core/smtpd"
)

// passwd prints a password-file line for USER, reading the password from
// standard input (one line), so it never shows in the process list:
//
//	echo 'secret' | moonpost passwd alice >> /etc/moonpost/passwd
func passwd(args []string) int {
	if len(args) != 1 || strings.ContainsAny(args[0], ":\r\n") || args[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: moonpost passwd USER < password   (prints a smtpd.password_file line)")
		return exUsage
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	pass := strings.TrimRight(line, "\r\n")
	if pass == "" {
		fmt.Fprintln(os.Stderr, "moonpost passwd: empty password", err)
		return exDataErr
	}
	hash, err := smtpd.HashPassword(pass)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost passwd:", err)
		return exSoftware
	}
	fmt.Printf("%s:%s\n", args[0], hash)
	return exOK
}
