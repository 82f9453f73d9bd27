package main

import (
	"errors"

	"veil/internal/client"
	"veil/internal/protocol"
)

// Exit codes of the client commands, documented in their --help.
const (
	exitOK      = 0
	exitFailure = 1 // cannot connect, connection lost for good, or another runtime failure
	exitUsage   = 2 // bad flags or arguments, a bad link or owner key
	exitRefused = 3 // room not found, wrong password, room full or locked, session ended or removed or idle, too many attempts
	exitEnded   = 4 // the room was purged or expired
)

const exitCodesHelp = `Exit codes:
  0  success
  1  runtime failure: cannot connect, or the connection was lost for good
  2  usage: bad flags, arguments, link or owner key
  3  refused: room not found, wrong password, room full or locked, too many
     attempts; or the session ended: removed by the owner, idle too long
  4  the room ended: purged or expired
`

// exitFor maps an error from joining or from the session's end to an exit
// code.
func exitFor(err error) int {
	var ce *client.CloseError
	if errors.As(err, &ce) {
		return exitForClose(ce.Code)
	}
	return exitFailure
}

func exitForClose(code int) int {
	switch code {
	case protocol.CloseNormal:
		return exitOK
	case protocol.CloseNotFound, protocol.CloseWrongPassword, protocol.CloseRoomFull, protocol.CloseLocked, protocol.CloseSessionEnded,
		protocol.CloseRemoved, protocol.CloseIdle, protocol.CloseTooMany:
		return exitRefused
	case protocol.ClosePurged, protocol.CloseExpired:
		return exitEnded
	}
	return exitFailure
}
