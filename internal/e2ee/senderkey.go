package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"fmt"

	"veil/internal/protocol"
)

// hpkeSuite is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
var (
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES256GCM()
)

// SenderKeyInfo is the HPKE info binding a distribution to its room, sender,
// epoch and recipient.
func SenderKeyInfo(rid protocol.RID, sender, epoch, to uint32) []byte {
	b := append([]byte("veil/sk"), rid[:]...)
	b = binary.BigEndian.AppendUint32(b, sender)
	b = binary.BigEndian.AppendUint32(b, epoch)
	return binary.BigEndian.AppendUint32(b, to)
}

// SealSenderKey seals chain key ck with next index n to the member whose
// X25519 key is peerX, in a kind-4 envelope with header h (suite 2).
func SealSenderKey(h protocol.Header, peerX []byte, priv ed25519.PrivateKey, ck [32]byte, n uint64) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peerX)
	if err != nil {
		return nil, fmt.Errorf("peer key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, err
	}
	h.Version, h.Suite, h.Kind = protocol.Version, SuiteV2, protocol.KindSenderKey
	hdr := protocol.AppendHeader(nil, h)
	enc, s, err := hpke.NewSender(pk, hpkeKDF, hpkeAEAD, SenderKeyInfo(h.RID, h.Sender, h.Epoch, h.To))
	if err != nil {
		return nil, err
	}
	pt := binary.BigEndian.AppendUint64(append([]byte{}, ck[:]...), n)
	ct, err := s.Seal(hdr, pt)
	if err != nil {
		return nil, err
	}
	env := append(append(hdr, enc...), ct...)
	return append(env, ed25519.Sign(priv, env)...), nil
}

// OpenSenderKey verifies a kind-4 envelope under the sender's key and opens
// it with the recipient's X25519 key.
func OpenSenderKey(env []byte, x *ecdh.PrivateKey, edPub ed25519.PublicKey) (protocol.Header, [32]byte, uint64, error) {
	var ck [32]byte
	h, err := Verify(env, edPub)
	if err != nil {
		return h, ck, 0, err
	}
	if h.Kind != protocol.KindSenderKey || h.Suite != SuiteV2 {
		return h, ck, 0, fmt.Errorf("%w: not a suite-2 sender key", ErrOpen)
	}
	body := env[protocol.HeaderLen : len(env)-protocol.SigLen]
	if len(body) != 32+40+protocol.TagLen {
		return h, ck, 0, fmt.Errorf("%w: sender key of %d bytes", ErrOpen, len(body))
	}
	k, err := hpke.NewDHKEMPrivateKey(x)
	if err != nil {
		return h, ck, 0, err
	}
	r, err := hpke.NewRecipient(body[:32], k, hpkeKDF, hpkeAEAD, SenderKeyInfo(h.RID, h.Sender, h.Epoch, h.To))
	if err != nil {
		return h, ck, 0, ErrOpen
	}
	pt, err := r.Open(env[:protocol.HeaderLen], body[32:])
	if err != nil || len(pt) != 40 {
		return h, ck, 0, ErrOpen
	}
	copy(ck[:], pt)
	return h, ck, binary.BigEndian.Uint64(pt[32:]), nil
}
