package local

import (
	"errors"
	"syscall"

	"github.com/moonpost/moonpost/core/dsn"
)

// The outcomes of local delivery, in one table (tested in codes_test.go).
// Texts are what the sender sees in a bounce; the log holds the detail.
var (
	statusDelivered = &dsn.Status{Code: 250, Enhanced: dsn.Enhanced{2, 0, 0}, Text: "delivered"}
	// Mailbox writes: ENOSPC defers, a quota or size limit bounces, as
	// Postfix's mbox_dsn() does; anything else is temporary.
	statusDiskFull    = dsn.DiskFull // 452 4.3.1
	statusMailboxFull = &dsn.Status{Code: 552, Enhanced: dsn.Enhanced{5, 2, 2}, Text: "mailbox full"}
	statusMailboxErr  = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 3, 0}, Text: "mailbox write error, try again later"}
	statusMailboxPerm = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 2, 0}, Text: "mailbox not accessible, try again later"}
	statusLocked      = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 2, 0}, Text: "mailbox is locked, try again later"}
	// Address and policy refusals.
	statusBadAddress = &dsn.Status{Code: 550, Enhanced: dsn.Enhanced{5, 1, 3}, Text: "bad address syntax"}
	statusDenied     = &dsn.Status{Code: 550, Enhanced: dsn.Enhanced{5, 7, 1}, Text: "permission denied"}
	statusLoop       = dsn.MailLoop // 554 5.4.6
	statusTooLarge   = &dsn.Status{Code: 554, Enhanced: dsn.Enhanced{5, 4, 6}, Text: "alias expansion too large"}
	// A forward with nowhere to go waits for the engine to provide one.
	statusNoForwarder = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 3, 0}, Text: "forwarding unavailable, try again later"}
	statusAliasTemp   = dsn.TempPolicy // 451 4.3.0, alias lookup failed
	statusIncludeErr  = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 3, 0}, Text: "cannot read include file, try again later"}
	statusConfigErr   = &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 3, 5}, Text: "local delivery configuration error"}
)

// table lists the statuses above for the consistency test.
var table = map[string]*dsn.Status{
	"delivered": statusDelivered, "diskFull": statusDiskFull, "mailboxFull": statusMailboxFull,
	"mailboxErr": statusMailboxErr, "mailboxPerm": statusMailboxPerm, "locked": statusLocked,
	"badAddress": statusBadAddress, "denied": statusDenied, "loop": statusLoop, "tooLarge": statusTooLarge,
	"noForwarder": statusNoForwarder, "aliasTemp": statusAliasTemp, "includeErr": statusIncludeErr,
	"configErr": statusConfigErr,
}

// fsStatus maps a mailbox write error to an outcome. Only a full quota
// (EDQUOT) or a file size limit (EFBIG) is permanent: everything else,
// including permission problems, may be fixed by the admin, so the mail
// waits.
func fsStatus(err error) *dsn.Status {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return statusDiskFull
	case errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return statusMailboxFull
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return statusMailboxPerm
	case errors.Is(err, errLockTimeout):
		return statusLocked
	}
	return statusMailboxErr
}
