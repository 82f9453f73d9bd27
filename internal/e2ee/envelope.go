package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"veil/internal/protocol"
)

// SuiteV1 is the suite of docs/protocol.md section 5: AES-256-GCM under room
// keys or a static X25519 DM key, signed with Ed25519.
const SuiteV1 = 1

var buckets = [...]int{256, 1024, 4096, 16384, 65536}

// MaxData is the largest plaintext a padded envelope holds.
const MaxData = protocol.MaxPadded - 4

// Errors callers branch on.
var (
	ErrTooLong  = errors.New("plaintext too long")
	ErrBadPad   = errors.New("bad padding")
	ErrOpen     = errors.New("envelope does not open")
	ErrBadSig   = errors.New("bad envelope signature")
	ErrZeroDH   = errors.New("all-zero shared secret")
	ErrBadHello = errors.New("bad hello")
)

// Pad prefixes data with its length and pads it with zeros to a bucket.
func Pad(data []byte) ([]byte, error) {
	n := 4 + len(data)
	for _, size := range buckets {
		if n <= size {
			out := make([]byte, size)
			binary.BigEndian.PutUint32(out, uint32(len(data)))
			copy(out[4:], data)
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(data), MaxData)
}

// Unpad reverses Pad. A length that is not a bucket size, a data length
// that does not fit and non-zero padding are errors.
func Unpad(p []byte) ([]byte, error) {
	if !slices.Contains(buckets[:], len(p)) {
		return nil, ErrBadPad
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return nil, ErrBadPad
	}
	for _, c := range p[4+n:] {
		if c != 0 {
			return nil, ErrBadPad
		}
	}
	return p[4 : 4+n], nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal pads data, encrypts it under key with h as associated data and signs
// the result with priv. A nil nonce means a random one.
func Seal(h protocol.Header, key []byte, priv ed25519.PrivateKey, data, nonce []byte) ([]byte, error) {
	p, err := Pad(data)
	if err != nil {
		return nil, err
	}
	if nonce == nil {
		nonce = make([]byte, protocol.NonceLen)
		rand.Read(nonce)
	}
	if len(nonce) != protocol.NonceLen {
		return nil, fmt.Errorf("nonce of %d bytes", len(nonce))
	}
	a, err := gcm(key)
	if err != nil {
		return nil, err
	}
	env := protocol.AppendHeader(make([]byte, 0, protocol.HeaderLen+protocol.NonceLen+len(p)+protocol.TagLen+protocol.SigLen), h)
	env = append(env, nonce...)
	env = a.Seal(env, nonce, p, env[:protocol.HeaderLen])
	return append(env, ed25519.Sign(priv, env)...), nil
}

// Verify checks env's signature under pub and returns its header.
func Verify(env []byte, pub ed25519.PublicKey) (protocol.Header, error) {
	h, err := protocol.ParseHeader(env)
	if err != nil {
		return h, err
	}
	body, sig := env[:len(env)-protocol.SigLen], env[len(env)-protocol.SigLen:]
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, body, sig) {
		return h, ErrBadSig
	}
	return h, nil
}

// Open verifies env under pub, decrypts it with key and unpads it.
func Open(env, key []byte, pub ed25519.PublicKey) (protocol.Header, []byte, error) {
	h, err := Verify(env, pub)
	if err != nil {
		return h, nil, err
	}
	data, err := Decrypt(env, key)
	return h, data, err
}

// DMKey derives the key for direct messages between sessions a and b.
func DMKey(priv *ecdh.PrivateKey, peer []byte, rid protocol.RID, a, b uint32) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, fmt.Errorf("peer key: %w", err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, ErrZeroDH // crypto/ecdh refuses the all-zero output
	}
	lo, hi := min(a, b), max(a, b)
	info := binary.BigEndian.AppendUint32([]byte("veil/dm"), lo)
	info = binary.BigEndian.AppendUint32(info, hi)
	return hkdf.Key(sha256.New, shared, rid[:], string(info), 32)
}

// SealMeta seals room metadata under the roster key. A nil nonce means a
// random one.
func SealMeta(roster []byte, rid protocol.RID, meta, nonce []byte) ([]byte, error) {
	if nonce == nil {
		nonce = make([]byte, protocol.NonceLen)
		rand.Read(nonce)
	}
	a, err := gcm(roster)
	if err != nil {
		return nil, err
	}
	out := a.Seal(append([]byte{}, nonce...), nonce, meta, append([]byte("veil/meta"), rid[:]...))
	if len(out) > protocol.MaxMeta {
		return nil, fmt.Errorf("%w: meta of %d bytes", ErrTooLong, len(out))
	}
	return out, nil
}

// OpenMeta reverses SealMeta.
func OpenMeta(roster []byte, rid protocol.RID, sealed []byte) ([]byte, error) {
	if len(sealed) < protocol.NonceLen+protocol.TagLen {
		return nil, ErrOpen
	}
	a, err := gcm(roster)
	if err != nil {
		return nil, err
	}
	p, err := a.Open(nil, sealed[:protocol.NonceLen], sealed[protocol.NonceLen:], append([]byte("veil/meta"), rid[:]...))
	if err != nil {
		return nil, ErrOpen
	}
	return p, nil
}

// Fingerprint is the short, comparable form of a member's two public keys.
func Fingerprint(ed, x []byte) string {
	sum := sha256.Sum256(append(append([]byte{}, ed...), x...))
	h := hex.EncodeToString(sum[:8])
	return h[0:4] + "-" + h[4:8] + "-" + h[8:12] + "-" + h[12:16]
}

// Decrypt decrypts and unpads env under key without checking its
// signature: for a caller that has verified it already (Verify), so the read
// path checks each signature once.
func Decrypt(env, key []byte) ([]byte, error) {
	if len(env) < protocol.MinEnvelope {
		return nil, ErrOpen
	}
	a, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := env[protocol.HeaderLen : protocol.HeaderLen+protocol.NonceLen]
	ct := env[protocol.HeaderLen+protocol.NonceLen : len(env)-protocol.SigLen]
	p, err := a.Open(nil, nonce, ct, env[:protocol.HeaderLen])
	if err != nil {
		return nil, ErrOpen
	}
	return Unpad(p)
}
