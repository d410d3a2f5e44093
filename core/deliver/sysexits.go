package deliver

import (
	"fmt"

	"github.com/moonpost/moonpost/core/dsn"
)

// sysexits(3) codes that commands (pipe(8) filters, |command aliases) use
// to say why they failed.
const (
	ExOK          = 0
	ExUsage       = 64
	ExDataErr     = 65
	ExNoInput     = 66
	ExNoUser      = 67
	ExNoHost      = 68
	ExUnavailable = 69
	ExSoftware    = 70
	ExOSErr       = 71
	ExOSFile      = 72
	ExCantCreat   = 73
	ExIOErr       = 74
	ExTempFail    = 75
	ExProtocol    = 76
	ExNoPerm      = 77
	ExConfig      = 78
)

// sysExits maps a command's exit code to the delivery outcome. The
// enhanced codes, texts and temporary/permanent split follow Postfix
// src/global/sys_exits.c: only EX_OSERR and EX_TEMPFAIL are temporary.
// Postfix records no SMTP reply code for these; we pick 451 for the
// temporary ones, 550 for "the address is wrong" (5.1.x, 5.7.0) and 554
// for the rest, so a bounce reads naturally.
var sysExits = map[int]*dsn.Status{
	ExOK:          {Code: 250, Enhanced: dsn.Enhanced{2, 0, 0}, Text: "delivered via command"},
	ExUsage:       {Code: 554, Enhanced: dsn.Enhanced{5, 3, 0}, Text: "command line usage error"},
	ExDataErr:     {Code: 554, Enhanced: dsn.Enhanced{5, 6, 0}, Text: "data format error"},
	ExNoInput:     {Code: 554, Enhanced: dsn.Enhanced{5, 3, 0}, Text: "cannot open input"},
	ExNoUser:      {Code: 550, Enhanced: dsn.Enhanced{5, 1, 1}, Text: "user unknown"},
	ExNoHost:      {Code: 550, Enhanced: dsn.Enhanced{5, 1, 2}, Text: "host name unknown"},
	ExUnavailable: {Code: 554, Enhanced: dsn.Enhanced{5, 3, 0}, Text: "service unavailable"},
	ExSoftware:    {Code: 554, Enhanced: dsn.Enhanced{5, 3, 0}, Text: "internal software error"},
	ExOSErr:       {Code: 451, Enhanced: dsn.Enhanced{4, 3, 0}, Text: "system resource problem"},
	ExOSFile:      {Code: 554, Enhanced: dsn.Enhanced{5, 3, 0}, Text: "critical OS file missing"},
	ExCantCreat:   {Code: 554, Enhanced: dsn.Enhanced{5, 2, 0}, Text: "can't create user output file"},
	ExIOErr:       {Code: 554, Enhanced: dsn.Enhanced{5, 3, 0}, Text: "input/output error"},
	ExTempFail:    {Code: 451, Enhanced: dsn.Enhanced{4, 3, 0}, Text: "temporary failure"},
	ExProtocol:    {Code: 554, Enhanced: dsn.Enhanced{5, 5, 0}, Text: "remote error in protocol"},
	ExNoPerm:      {Code: 550, Enhanced: dsn.Enhanced{5, 7, 0}, Text: "permission denied"},
	ExConfig:      {Code: 554, Enhanced: dsn.Enhanced{5, 3, 5}, Text: "local configuration error"},
}

// ExitStatus returns the outcome for a command that exited with code.
// A code outside the table is a deferral (451 4.3.0), as in Postfix: a
// command that says nothing we understand must not bounce mail.
func ExitStatus(code int) *dsn.Status {
	if st, ok := sysExits[code]; ok {
		return st
	}
	return &dsn.Status{Code: 451, Enhanced: dsn.Enhanced{4, 3, 0},
		Text: fmt.Sprintf("unknown mail system error %d", code)}
}
