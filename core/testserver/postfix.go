package testserver

import "fmt"

// PostfixMaster returns the master.cf of a private Postfix instance, as
// the interoperability tests (cmd/internal/interop) and the relay
// benchmark run them: chroot off, every service Postfix 3.7 needs, and a
// postlogd so the instance can log to its own file. smtpd listens on
// listen ("127.0.0.1:2526") with at most smtpdProcs processes ("-" for
// Postfix's default).
func PostfixMaster(listen, smtpdProcs string) string {
	return fmt.Sprintf(postfixMaster, listen, smtpdProcs)
}

const postfixMaster = `%s inet n - n - %s smtpd
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
