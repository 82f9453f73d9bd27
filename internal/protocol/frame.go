package protocol

import (
	"encoding/binary"
	"unicode/utf8"
)

// Frame is one decoded WebSocket message.
type Frame interface {
	// Append appends the frame's wire encoding to b.
	Append(b []byte) []byte
}

// Join asks to enter a room as a new session.
type Join struct {
	RID  RID
	Join [KeyLen]byte
}

// Resume asks to take back a session whose socket dropped.
type Resume struct {
	RID   RID
	Token [TokenLen]byte
}

// Envelope carries a sealed envelope. Raw is the whole frame, type byte
// included, so a relay forwards it without copying; it aliases the decoded
// buffer.
type Envelope struct {
	Header Header
	Raw    []byte
}

// Body returns the envelope without the frame type byte.
func (e Envelope) Body() []byte { return e.Raw[1:] }

// Purge ends a room. Owner is nil when no owner key is given.
type Purge struct {
	Owner *[KeyLen]byte
}

// Logout ends the sender's session for good.
type Logout struct{}

// Owner proves that the sending session holds the room's owner key.
type Owner struct {
	Key [KeyLen]byte
}

// Kick asks the relay to remove a session; only an owner may.
type Kick struct {
	Session uint32
}

// Lock locks (true) or unlocks the room to new joins; only an owner may.
type Lock struct {
	Locked bool
}

// Active says the person behind the session is still there.
type Active struct{}

// State tells a member the room's lock and its own owner status.
type State struct {
	Flags byte
}

// Member is one announced member listed in a WELCOME.
type Member struct {
	Session uint32
	Hello   []byte
}

// Welcome admits a session to a room.
type Welcome struct {
	Session     uint32
	Token       [TokenLen]byte
	RemainingMS uint64
	Policy      byte
	Meta        []byte
	Members     []Member
}

// Left tells members that a session ended.
type Left struct {
	Session uint32
	Reason  byte
}

// Error reports a refused request; the socket stays open.
type Error struct {
	Code   uint16
	Reason string
}

func (f Join) Append(b []byte) []byte {
	b = append(b, TypeJoin)
	b = append(b, f.RID[:]...)
	return append(b, f.Join[:]...)
}

func (f Resume) Append(b []byte) []byte {
	b = append(b, TypeResume)
	b = append(b, f.RID[:]...)
	return append(b, f.Token[:]...)
}

func (f Envelope) Append(b []byte) []byte { return append(b, f.Raw...) }

func (f Purge) Append(b []byte) []byte {
	b = append(b, TypePurge)
	if f.Owner != nil {
		b = append(b, f.Owner[:]...)
	}
	return b
}

func (Logout) Append(b []byte) []byte { return append(b, TypeLogout) }

func (f Owner) Append(b []byte) []byte { return append(append(b, TypeOwner), f.Key[:]...) }

func (f Kick) Append(b []byte) []byte {
	return binary.BigEndian.AppendUint32(append(b, TypeKick), f.Session)
}

func (f Lock) Append(b []byte) []byte {
	v := byte(0)
	if f.Locked {
		v = 1
	}
	return append(b, TypeLock, v)
}

func (Active) Append(b []byte) []byte { return append(b, TypeActive) }

func (f State) Append(b []byte) []byte { return append(b, TypeState, f.Flags) }

func (f Welcome) Append(b []byte) []byte {
	b = append(b, TypeWelcome)
	b = binary.BigEndian.AppendUint32(b, f.Session)
	b = append(b, f.Token[:]...)
	b = binary.BigEndian.AppendUint64(b, f.RemainingMS)
	b = append(b, f.Policy)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Meta)))
	b = append(b, f.Meta...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Members)))
	for _, m := range f.Members {
		b = binary.BigEndian.AppendUint32(b, m.Session)
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Hello)))
		b = append(b, m.Hello...)
	}
	return b
}

func (f Left) Append(b []byte) []byte {
	b = append(b, TypeLeft)
	b = binary.BigEndian.AppendUint32(b, f.Session)
	return append(b, f.Reason)
}

func (f Error) Append(b []byte) []byte {
	b = append(b, TypeError)
	b = binary.BigEndian.AppendUint16(b, f.Code)
	return append(b, f.Reason...)
}

// Encode returns the wire encoding of f.
func Encode(f Frame) []byte { return f.Append(nil) }

// frameLimit is the largest frame of a type: MaxWelcome for WELCOME,
// MaxFrame for every other.
func frameLimit(typ byte) int {
	if typ == TypeWelcome {
		return MaxWelcome
	}
	return MaxFrame
}

// Decode parses one frame from either direction. Envelope frames alias b.
// Every error wraps ErrMalformed.
func Decode(b []byte) (Frame, error) {
	if len(b) == 0 {
		return nil, malformed("empty frame")
	}
	if limit := frameLimit(b[0]); len(b) > limit {
		return nil, malformed("frame of %d bytes, limit %d", len(b), limit)
	}
	body := b[1:]
	switch b[0] {
	case TypeJoin:
		var f Join
		if len(body) != RIDLen+KeyLen {
			return nil, malformed("join of %d bytes", len(body))
		}
		copy(f.RID[:], body)
		copy(f.Join[:], body[RIDLen:])
		return f, nil
	case TypeResume:
		var f Resume
		if len(body) != RIDLen+TokenLen {
			return nil, malformed("resume of %d bytes", len(body))
		}
		copy(f.RID[:], body)
		copy(f.Token[:], body[RIDLen:])
		return f, nil
	case TypeEnvelope:
		h, err := ParseHeader(body)
		if err != nil {
			return nil, err
		}
		return Envelope{Header: h, Raw: b}, nil
	case TypePurge:
		switch len(body) {
		case 0:
			return Purge{}, nil
		case KeyLen:
			var k [KeyLen]byte
			copy(k[:], body)
			return Purge{Owner: &k}, nil
		}
		return nil, malformed("purge of %d bytes", len(body))
	case TypeLogout:
		if len(body) != 0 {
			return nil, malformed("logout of %d bytes", len(body))
		}
		return Logout{}, nil
	case TypeOwner:
		if len(body) != KeyLen {
			return nil, malformed("owner of %d bytes", len(body))
		}
		var f Owner
		copy(f.Key[:], body)
		return f, nil
	case TypeKick:
		if len(body) != 4 {
			return nil, malformed("kick of %d bytes", len(body))
		}
		return Kick{Session: binary.BigEndian.Uint32(body)}, nil
	case TypeLock:
		if len(body) != 1 || body[0] > 1 {
			return nil, malformed("lock must be one byte, 0 or 1")
		}
		return Lock{Locked: body[0] == 1}, nil
	case TypeActive:
		if len(body) != 0 {
			return nil, malformed("active of %d bytes", len(body))
		}
		return Active{}, nil
	case TypeState:
		if len(body) != 1 || body[0]&^(StateLocked|StateOwner) != 0 {
			return nil, malformed("state must be one byte of known flags")
		}
		return State{Flags: body[0]}, nil
	case TypeWelcome:
		return decodeWelcome(body)
	case TypeLeft:
		if len(body) != 5 {
			return nil, malformed("left of %d bytes", len(body))
		}
		return Left{Session: binary.BigEndian.Uint32(body), Reason: body[4]}, nil
	case TypeError:
		if len(body) < 2 {
			return nil, malformed("error of %d bytes", len(body))
		}
		reason := body[2:]
		if !utf8.Valid(reason) {
			return nil, malformed("error reason is not UTF-8")
		}
		return Error{Code: binary.BigEndian.Uint16(body), Reason: string(reason)}, nil
	}
	return nil, malformed("unknown frame type %#02x", b[0])
}

// reader consumes a byte slice front to back; a short read sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func decodeWelcome(body []byte) (Frame, error) {
	r := reader{b: body}
	var f Welcome
	f.Session = r.u32()
	copy(f.Token[:], r.take(TokenLen))
	f.RemainingMS = r.u64()
	if p := r.take(1); p != nil {
		f.Policy = p[0]
	}
	f.Meta = r.take(int(r.u16()))
	n := int(r.u16())
	if r.bad {
		return nil, malformed("truncated welcome")
	}
	if f.Policy > PolicyOwner {
		return nil, malformed("welcome policy %d", f.Policy)
	}
	if len(f.Meta) > MaxMeta {
		return nil, malformed("welcome meta of %d bytes", len(f.Meta))
	}
	f.Members = make([]Member, 0, min(n, len(r.b)/6))
	for range n {
		m := Member{Session: r.u32()}
		m.Hello = r.take(int(r.u16()))
		if r.bad {
			return nil, malformed("truncated welcome member")
		}
		if len(m.Hello) > MaxHello {
			return nil, malformed("welcome hello of %d bytes", len(m.Hello))
		}
		f.Members = append(f.Members, m)
	}
	if len(r.b) != 0 {
		return nil, malformed("%d trailing bytes after welcome", len(r.b))
	}
	return f, nil
}
