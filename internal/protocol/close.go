package protocol

import "fmt"

// Close codes sent by a relay (docs/protocol.md, section 4.4).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	CloseTooLarge      = 1009
	CloseRestart       = 1012 // a cluster node going away: the room lives on; resume through another
	CloseBadFrame      = 4000
	CloseBadEnvelope   = 4001
	CloseWrongPassword = 4003
	CloseNotFound      = 4004
	CloseRoomFull      = 4005
	CloseLocked        = 4006
	CloseSessionEnded  = 4007
	CloseExpired       = 4008
	ClosePurged        = 4009
	CodeNotAllowed     = 4010 // in an ERROR frame; the socket stays open
	CloseTooSlow       = 4011 // also an ERROR code: a file transfer skipped for a slow reader
	CloseRemoved       = 4012
	CodeFileTooLarge   = 4013 // in an ERROR frame: a transfer over the relay's file size limit
	CodeNoOwner        = 4014 // in an ERROR frame: a report while no owner is in the room
	CloseIdle          = 4015
	CodeNoMember       = 4016 // in an ERROR frame: a KICK naming nobody in the room
	ClosePoW           = 4017 // JOIN without a valid proof of work, on a server that asks for one
	CloseTooMany       = 4029
)

// Reject is a refusal that ends a socket: the close code and the reason a
// person reads. The relay turns it into a WebSocket close in one place.
type Reject struct {
	Code   int
	Reason string
}

func (r *Reject) Error() string { return fmt.Sprintf("close %d: %s", r.Code, r.Reason) }

// Rejections with fixed reasons.
var (
	ErrWrongPassword = &Reject{CloseWrongPassword, "wrong password"}
	ErrNotFound      = &Reject{CloseNotFound, "room not found"}
	ErrRoomFull      = &Reject{CloseRoomFull, "room full"}
	ErrLocked        = &Reject{CloseLocked, "room locked"}
	ErrRemoved       = &Reject{CloseRemoved, "removed by the owner"}
	ErrIdle          = &Reject{CloseIdle, "idle for too long"}
	ErrTooManyJoins  = &Reject{CloseTooMany, "too many joins; try again in a minute"}
	ErrSessionEnded  = &Reject{CloseSessionEnded, "session ended"}
	ErrExpired       = &Reject{CloseExpired, "room expired"}
	ErrPurged        = &Reject{ClosePurged, "room purged"}
	ErrTooSlow       = &Reject{CloseTooSlow, "too slow"}
	ErrTooMany       = &Reject{CloseTooMany, "too many attempts"}
	ErrGoingAway     = &Reject{CloseGoingAway, "server going away"}
	ErrRestart       = &Reject{CloseRestart, "node going away; reconnect to resume"}
	ErrLoggedOut     = &Reject{CloseNormal, "logged out"}
)

// BadFrame is the rejection for a malformed or unexpected frame.
func BadFrame(why string) *Reject { return &Reject{CloseBadFrame, "bad frame: " + why} }

// BadEnvelope is the rejection for an envelope that does not fit its socket.
func BadEnvelope(why string) *Reject { return &Reject{CloseBadEnvelope, "bad envelope: " + why} }
