// Package protocol defines veil's wire frames and the envelope header: types,
// encoding, decoding and limits. It does no I/O and never decrypts: the
// header is all a relay may read, and the rest of an envelope is opaque here.
// docs/protocol.md is the specification this package implements.
package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame types. ENVELOPE has the same type in both directions so a relay can
// forward the exact bytes it received.
const (
	TypeJoin     byte = 0x01
	TypeResume   byte = 0x02
	TypeEnvelope byte = 0x03
	TypePurge    byte = 0x04
	TypeLogout   byte = 0x05
	TypeOwner    byte = 0x06
	TypeKick     byte = 0x07
	TypeLock     byte = 0x08
	TypeActive   byte = 0x09
	TypeWelcome  byte = 0x81
	TypeLeft     byte = 0x82
	TypeError    byte = 0x83
	TypeState    byte = 0x84
)

// Envelope kinds.
const (
	KindHello     byte = 1
	KindMsg       byte = 2
	KindDM        byte = 3
	KindSenderKey byte = 4 // suite 2: a chain key sealed to one member
	KindHandshake byte = 5 // suite 2: a DM session offer or accept
	KindChunk     byte = 6 // a chunk of a file; To is 0 (room) or the DM peer
	KindReport    byte = 7 // a report sealed to the room's report key; only owners get it
)

// FlagLast marks the last chunk of a file (kind 6 only).
const FlagLast byte = 0x01

// Addressed reports whether envelopes of kind go to one member (To) rather
// than to the whole room.
func Addressed(kind byte) bool { return kind >= KindDM && kind <= KindHandshake }

// Sizes and limits of version 1.
const (
	Version     = 1
	RIDLen      = 16
	KeyLen      = 32
	TokenLen    = 32
	HeaderLen   = 40
	NonceLen    = 12
	TagLen      = 16
	SigLen      = 64
	MinEnvelope = HeaderLen + NonceLen + TagLen + SigLen // 132
	MaxPadded   = 65536
	// MaxEnvelope is the largest envelope: the largest padded plaintext.
	MaxEnvelope = HeaderLen + NonceLen + MaxPadded + TagLen + SigLen
	// MaxFrame is the largest frame a relay accepts.
	MaxFrame = 1 + MaxEnvelope
	// MaxHello is the largest hello envelope: one whose plaintext fills the
	// 1024-byte bucket (a 32-character alias of 4-byte characters with
	// capabilities does).
	MaxHello = HeaderLen + NonceLen + 1024 + TagLen + SigLen // 1156
	MaxMeta  = 1024
	// MaxMembers is the most sessions a room can have, whatever a relay is
	// configured with: it bounds WELCOME.
	MaxMembers = 1000
	// MaxWelcome is the largest WELCOME: the one frame from the relay that
	// may exceed MaxFrame, since it lists every member's hello (about
	// 1.1 MiB for MaxMembers members with the largest hellos).
	MaxWelcome = 1 + 4 + TokenLen + 8 + 1 + 2 + MaxMeta + 2 + MaxMembers*(4+2+MaxHello)
)

// Purge policies, as carried in WELCOME.
const (
	PolicyAnyone byte = 0
	PolicyOwner  byte = 1
)

// Reasons carried by LEFT.
const (
	LeftClosed    byte = 1
	LeftLoggedOut byte = 2
	LeftDropped   byte = 3
	LeftTooSlow   byte = 4
	LeftRemoved   byte = 5
	LeftIdle      byte = 6
)

// STATE flags.
const (
	StateLocked byte = 0x01
	StateOwner  byte = 0x02
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// RID is a room identifier: the first 16 bytes of HKDF(S, "veil/room-id").
type RID [RIDLen]byte

// Header is the fixed, readable part of an envelope.
type Header struct {
	Version byte
	Suite   byte
	Kind    byte
	Flags   byte
	RID     RID
	Sender  uint32
	To      uint32
	Epoch   uint32
	Seq     uint64
}

// ParseHeader reads the header of env. It checks only the length and the
// fields every version-1 envelope must have; whether the header fits a room
// and a sender is the relay's business.
func ParseHeader(env []byte) (Header, error) {
	var h Header
	if len(env) < MinEnvelope {
		return h, malformed("envelope of %d bytes, want at least %d", len(env), MinEnvelope)
	}
	if len(env) > MaxEnvelope {
		return h, malformed("envelope of %d bytes, want at most %d", len(env), MaxEnvelope)
	}
	h.Version = env[0]
	h.Suite = env[1]
	h.Kind = env[2]
	h.Flags = env[3]
	copy(h.RID[:], env[4:20])
	h.Sender = binary.BigEndian.Uint32(env[20:24])
	h.To = binary.BigEndian.Uint32(env[24:28])
	h.Epoch = binary.BigEndian.Uint32(env[28:32])
	h.Seq = binary.BigEndian.Uint64(env[32:40])
	if h.Version != Version {
		return h, malformed("envelope version %d", h.Version)
	}
	if h.Flags != 0 && !(h.Kind == KindChunk && h.Flags == FlagLast) {
		return h, malformed("envelope flags %#x", h.Flags)
	}
	switch h.Kind {
	case KindHello, KindMsg, KindReport:
		if h.To != 0 {
			return h, malformed("kind %d envelope addressed to %d", h.Kind, h.To)
		}
	case KindDM, KindSenderKey, KindHandshake:
		if h.To == 0 {
			return h, malformed("kind %d envelope without recipient", h.Kind)
		}
	case KindChunk:
		if h.Epoch == 0 {
			return h, malformed("chunk without a transfer id")
		}
	default:
		return h, malformed("envelope kind %d", h.Kind)
	}
	return h, nil
}

// AppendHeader appends the 40-byte encoding of h to b.
func AppendHeader(b []byte, h Header) []byte {
	b = append(b, h.Version, h.Suite, h.Kind, h.Flags)
	b = append(b, h.RID[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Sender)
	b = binary.BigEndian.AppendUint32(b, h.To)
	b = binary.BigEndian.AppendUint32(b, h.Epoch)
	return binary.BigEndian.AppendUint64(b, h.Seq)
}
