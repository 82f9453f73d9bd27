package p2p

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"veil/internal/protocol"
)

// A topic message is one of these, by its first byte (docs/p2p.md).
const (
	msgEnvelope byte = 1 // an envelope, as a relay would carry it, after the sender's count
	msgAlive    byte = 2 // a member's signed presence, with its hello
	msgBye      byte = 3 // a member's signed departure
	msgPurge    byte = 4 // a signed purge: every peer wipes the room and leaves
	msgKeyReq   byte = 5 // a member asks another for its sender key again
	msgWho      byte = 6 // a newcomer asks who is here: members answer with alive notices
)

// sigContext starts every signed notice, so a signature made here is
// never valid anywhere else.
const sigContext = "veil/p2p/v1 notice\x00"

// whoNonce is the size of a who's random bytes.
const whoNonce = 8

// MaxMessage is the largest topic message: a kind byte, a count and a
// frame.
const MaxMessage = 1 + 8 + protocol.MaxFrame

// notice is a decoded topic message other than an envelope. Every field
// but Hello and Sig is covered by the signature; Hello is covered too, as
// the signed bytes are the whole message without the signature.
type notice struct {
	Kind    byte
	Session uint32
	TimeMS  uint64 // the sender's clock, Unix milliseconds
	Arg     uint32 // bye: the reason; purge: 1 if signed by the owner key; keyreq: the epoch
	To      uint32 // keyreq: whose key
	Hello   []byte // alive: the member's hello envelope
	Sig     [ed25519.SignatureSize]byte
}

// noticeHead is the fixed part of a notice: kind, session, time, arg, to.
const noticeHead = 1 + 4 + 8 + 4 + 4

var errMessage = errors.New("bad topic message")

// decode parses a topic message: an envelope with its sender's count of
// envelopes sent (the header is checked, the count cannot be: a relay
// keeps order on its socket, the topic does not, and receivers put each
// member's envelopes back in order by it), or a notice (whose signature is
// not checked here: that needs the roster).
func decode(b []byte) (env []byte, count uint64, n notice, err error) {
	if len(b) == 0 || len(b) > MaxMessage {
		return nil, 0, n, fmt.Errorf("%w: %d bytes", errMessage, len(b))
	}
	switch b[0] {
	case msgEnvelope:
		if len(b) < 9 {
			return nil, 0, n, fmt.Errorf("%w: an envelope of %d bytes", errMessage, len(b))
		}
		count = binary.BigEndian.Uint64(b[1:])
		if _, err := protocol.ParseHeader(b[9:]); err != nil || count == 0 {
			return nil, 0, n, fmt.Errorf("%w: %v, count %d", errMessage, err, count)
		}
		return b[9:], count, n, nil
	case msgWho:
		if len(b) != 1+whoNonce {
			return nil, 0, n, fmt.Errorf("%w: a who of %d bytes", errMessage, len(b))
		}
		n.Kind = msgWho
		return nil, 0, n, nil
	case msgAlive, msgBye, msgPurge, msgKeyReq:
	default:
		return nil, 0, n, fmt.Errorf("%w: kind %d", errMessage, b[0])
	}
	if len(b) < noticeHead+ed25519.SignatureSize {
		return nil, 0, n, fmt.Errorf("%w: a notice of %d bytes", errMessage, len(b))
	}
	n.Kind = b[0]
	n.Session = binary.BigEndian.Uint32(b[1:])
	n.TimeMS = binary.BigEndian.Uint64(b[5:])
	n.Arg = binary.BigEndian.Uint32(b[13:])
	n.To = binary.BigEndian.Uint32(b[17:])
	body := b[noticeHead : len(b)-ed25519.SignatureSize]
	copy(n.Sig[:], b[len(b)-ed25519.SignatureSize:])
	if n.Session == 0 {
		return nil, 0, n, fmt.Errorf("%w: session 0", errMessage)
	}
	switch n.Kind {
	case msgAlive:
		if _, err := protocol.ParseHeader(body); err != nil {
			return nil, 0, n, fmt.Errorf("%w: the hello: %v", errMessage, err)
		}
		n.Hello = body
	default:
		if len(body) != 0 {
			return nil, 0, n, fmt.Errorf("%w: %d stray bytes", errMessage, len(body))
		}
	}
	return nil, 0, n, nil
}

// unsigned is the notice's bytes without the signature.
func (n notice) unsigned() []byte {
	b := make([]byte, noticeHead, noticeHead+len(n.Hello)+ed25519.SignatureSize)
	b[0] = n.Kind
	binary.BigEndian.PutUint32(b[1:], n.Session)
	binary.BigEndian.PutUint64(b[5:], n.TimeMS)
	binary.BigEndian.PutUint32(b[13:], n.Arg)
	binary.BigEndian.PutUint32(b[17:], n.To)
	return append(b, n.Hello...)
}

// signed is what the signature covers: the context, the room and the
// notice, so that a notice cannot be moved to another room.
func signed(rid protocol.RID, unsigned []byte) []byte {
	b := append([]byte(sigContext), rid[:]...)
	return append(b, unsigned...)
}

// sign returns the notice as a topic message signed by key.
func (n notice) sign(rid protocol.RID, key ed25519.PrivateKey) []byte {
	u := n.unsigned()
	return append(u, ed25519.Sign(key, signed(rid, u))...)
}

// verify checks the notice's signature under pub.
func (n notice) verify(rid protocol.RID, pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, signed(rid, n.unsigned()), n.Sig[:])
}

func envelopeMessage(count uint64, env []byte) []byte {
	b := binary.BigEndian.AppendUint64([]byte{msgEnvelope}, count)
	return append(b, env...)
}
