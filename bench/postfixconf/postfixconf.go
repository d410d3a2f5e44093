// Package postfixconf holds the master.cf of the private Postfix
// instances that the interoperability tests and the relay benchmark run:
// chroot off, every service Postfix 3.7 needs, and a postlogd so the
// instance can log to its own file.
package postfixconf

import "fmt"

// Master returns master.cf with smtpd listening on listen ("127.0.0.1:2526")
// and at most smtpdProcs smtpd processes ("-" for Postfix's default).
func Master(listen, smtpdProcs string) string {
	return fmt.Sprintf(master, listen, smtpdProcs)
}

const master = `%s inet n - n - %s smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`
