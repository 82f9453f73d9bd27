package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"veil/internal/protocol"
)

// CapMLKEM is the hello capability for the hybrid DM handshake.
const CapMLKEM = "mlkem768"

// DMParams are the inputs of a DM session's key derivation
// (docs/protocol.md section 7.3). A is the initiator.
type DMParams struct {
	Initiator bool // this side is A
	RID       protocol.RID
	A, B, SID uint32
	EdA, XA   []byte
	EdB, XB   []byte
	EA, EB    []byte // ephemeral X25519 public keys
	KEM       []byte // ML-KEM-768 encapsulation key, or nil
	KEMCT     []byte // ML-KEM-768 ciphertext, or nil
	SS        []byte // ML-KEM shared secret, or nil
	MyEph     *ecdh.PrivateKey
	MyX       *ecdh.PrivateKey
}

// DMKeys are a DM session's two chains and its safety code.
type DMKeys struct {
	Send, Recv [32]byte // CK_1 of each direction, seen from this side
	Safety     string
	TH         [32]byte
}

func dh(priv *ecdh.PrivateKey, pub []byte) ([]byte, error) {
	p, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	out, err := priv.ECDH(p)
	if err != nil {
		return nil, ErrZeroDH
	}
	return out, nil
}

// DMDerive computes the DM session keys from this side's private keys.
func DMDerive(p DMParams) (DMKeys, error) {
	var k DMKeys
	var dh1, dh2, dh3 []byte
	var err1, err2, err3 error
	if p.Initiator {
		dh1, err1 = dh(p.MyEph, p.XB)
		dh2, err2 = dh(p.MyX, p.EB)
		dh3, err3 = dh(p.MyEph, p.EB)
	} else {
		dh1, err1 = dh(p.MyX, p.EA)
		dh2, err2 = dh(p.MyEph, p.XA)
		dh3, err3 = dh(p.MyEph, p.EA)
	}
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return k, fmt.Errorf("dm handshake: %w", err)
		}
	}
	th := sha256.New()
	th.Write([]byte("veil/dm"))
	th.Write(p.RID[:])
	var ids [12]byte
	binary.BigEndian.PutUint32(ids[0:], p.A)
	binary.BigEndian.PutUint32(ids[4:], p.B)
	binary.BigEndian.PutUint32(ids[8:], p.SID)
	th.Write(ids[:])
	for _, b := range [][]byte{p.EdA, p.XA, p.EdB, p.XB, p.EA, p.EB, p.KEM, p.KEMCT} {
		th.Write(b)
	}
	copy(k.TH[:], th.Sum(nil))
	ikm := bytes.Join([][]byte{dh1, dh2, dh3, p.SS}, nil)
	root, err := hkdf.Key(sha256.New, ikm, k.TH[:], "veil/dm/root", 32)
	if err != nil {
		return k, err
	}
	a2b, err := hkdf.Expand(sha256.New, root, "veil/dm/a2b", 32)
	if err != nil {
		return k, err
	}
	b2a, err := hkdf.Expand(sha256.New, root, "veil/dm/b2a", 32)
	if err != nil {
		return k, err
	}
	clear(root)
	if p.Initiator {
		copy(k.Send[:], a2b)
		copy(k.Recv[:], b2a)
	} else {
		copy(k.Send[:], b2a)
		copy(k.Recv[:], a2b)
	}
	k.Safety = safetyDigits("veil/dm-safety", k.TH[:])
	return k, nil
}

// MemberSafety is the code two members compare out of band; it is the same
// from either side.
func MemberSafety(edA, xA, edB, xB []byte) string {
	a := append(append([]byte{}, edA...), xA...)
	b := append(append([]byte{}, edB...), xB...)
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	return safetyDigits("veil/member-safety", append(a, b...))
}

func safetyDigits(label string, data []byte) string {
	sum := sha256.Sum256(append([]byte(label), data...))
	v := binary.BigEndian.Uint64(sum[:8]) % 1_000_000_000_000
	s := fmt.Sprintf("%012d", v)
	return s[0:4] + " " + s[4:8] + " " + s[8:12]
}
