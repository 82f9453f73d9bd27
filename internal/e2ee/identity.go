package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"veil/internal/protocol"
)

// Identity is one session's key pairs. It lives only as long as the session.
type Identity struct {
	Ed ed25519.PrivateKey
	X  *ecdh.PrivateKey
}

// NewIdentity makes fresh key pairs.
func NewIdentity() (Identity, error) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Identity{}, err
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Ed: ed, X: x}, nil
}

// IdentityFromSeeds rebuilds an identity from fixed bytes, for test vectors.
func IdentityFromSeeds(edSeed, xPriv []byte) (Identity, error) {
	if len(edSeed) != ed25519.SeedSize {
		return Identity{}, fmt.Errorf("ed25519 seed of %d bytes", len(edSeed))
	}
	x, err := ecdh.X25519().NewPrivateKey(xPriv)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Ed: ed25519.NewKeyFromSeed(edSeed), X: x}, nil
}

// EdPub returns the Ed25519 public key.
func (id Identity) EdPub() ed25519.PublicKey { return id.Ed.Public().(ed25519.PublicKey) }

// XPub returns the X25519 public key bytes.
func (id Identity) XPub() []byte { return id.X.PublicKey().Bytes() }

// Hello is the plaintext of a kind-1 envelope.
type Hello struct {
	Alias string   `json:"alias"`
	X     string   `json:"x"`
	E     string   `json:"e"`
	Caps  []string `json:"caps,omitempty"`
}

// Member is an opened, verified hello.
type Member struct {
	Session uint32
	Alias   string
	EdPub   ed25519.PublicKey
	XPub    []byte
	Caps    []string
}

// Has reports whether the member announced capability c.
func (m Member) Has(c string) bool { return slices.Contains(m.Caps, c) }

// Fingerprint returns the member's fingerprint.
func (m Member) Fingerprint() string { return Fingerprint(m.EdPub, m.XPub) }

// SealHello announces id under alias, with capabilities caps, as session
// sender.
func SealHello(k Keys, sender uint32, seq uint64, id Identity, alias string, caps []string, nonce []byte) ([]byte, error) {
	// Without HTML escaping, like the browser's JSON.stringify: an alias of
	// 32 "<" stays in the smallest padding bucket.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Hello{
		Alias: alias,
		X:     base64.RawURLEncoding.EncodeToString(id.XPub()),
		E:     base64.RawURLEncoding.EncodeToString(id.EdPub()),
		Caps:  caps,
	}); err != nil {
		return nil, err
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := protocol.Header{Version: protocol.Version, Suite: SuiteV1, Kind: protocol.KindHello, RID: k.RID, Sender: sender, Seq: seq}
	return Seal(h, k.Roster[:], id.Ed, data, nonce)
}

// OpenHello opens a hello, checks it is signed by the key it announces and
// returns the member with a normalised alias.
func OpenHello(k Keys, env []byte) (Member, protocol.Header, error) {
	h, err := protocol.ParseHeader(env)
	if err != nil {
		return Member{}, h, err
	}
	if h.Kind != protocol.KindHello || h.RID != k.RID {
		return Member{}, h, fmt.Errorf("%w: not a hello of this room", ErrBadHello)
	}
	// Decrypt first to learn the key, then require the signature under it.
	data, err := Decrypt(env, k.Roster[:])
	if err != nil {
		return Member{}, h, err
	}
	var hl Hello
	if err := json.Unmarshal(data, &hl); err != nil {
		return Member{}, h, fmt.Errorf("%w: %v", ErrBadHello, err)
	}
	ed, err1 := base64.RawURLEncoding.DecodeString(hl.E)
	x, err2 := base64.RawURLEncoding.DecodeString(hl.X)
	if err1 != nil || err2 != nil || len(ed) != 32 || len(x) != 32 {
		return Member{}, h, fmt.Errorf("%w: keys", ErrBadHello)
	}
	if _, err := Verify(env, ed); err != nil {
		return Member{}, h, err
	}
	return Member{Session: h.Sender, Alias: NormalizeAlias(hl.Alias), EdPub: ed, XPub: x, Caps: hl.Caps}, h, nil
}

func encodeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func edSign(id Identity, b []byte) []byte { return ed25519.Sign(id.Ed, b) }
