// Package e2ee is veil's end-to-end scheme for Go clients: the room key
// schedule, links, envelope sealing and opening, padding, direct-message keys
// and alias normalisation (docs/protocol.md, sections 1, 2 and 5). It uses
// only the standard library's primitives. Server-side packages never import
// it: the relay cannot decrypt by construction.
package e2ee

import (
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"

	"veil/internal/protocol"
)

// SecretLen is the size of a room secret S.
const SecretLen = 32

// PasswordIterations is the PBKDF2 work factor for room passwords.
const PasswordIterations = 600_000

// Keys is what a member derives from a link and password.
type Keys struct {
	RID      protocol.RID
	Join     [32]byte // presented to the relay when joining
	Verifier [32]byte // SHA-256(Join), registered by the creator
	Roster   [32]byte // AES-256-GCM key for hellos and room meta
	Msg      [32]byte // AES-256-GCM key for group messages (suite 1)
}

// RoomID returns the room identifier of secret S.
func RoomID(secret []byte) (protocol.RID, error) {
	var rid protocol.RID
	b, err := hkdf.Key(sha256.New, secret, nil, "veil/room-id", protocol.RIDLen)
	if err != nil {
		return rid, fmt.Errorf("room id: %w", err)
	}
	copy(rid[:], b)
	return rid, nil
}

// PasswordKey stretches a room password; it is empty for an empty password.
func PasswordKey(password string, rid protocol.RID) ([]byte, error) {
	if password == "" {
		return nil, nil
	}
	salt := append([]byte("veil/pw"), rid[:]...)
	return pbkdf2.Key(sha256.New, norm.NFKC.String(password), salt, PasswordIterations, 32)
}

// DeriveRoom runs the key schedule for secret S and an optional password.
// With a password it takes PBKDF2's 600,000 iterations (about half a second).
func DeriveRoom(secret []byte, password string) (Keys, error) {
	var k Keys
	if len(secret) != SecretLen {
		return k, fmt.Errorf("room secret of %d bytes, want %d", len(secret), SecretLen)
	}
	rid, err := RoomID(secret)
	if err != nil {
		return k, err
	}
	k.RID = rid
	p, err := PasswordKey(password, rid)
	if err != nil {
		return k, fmt.Errorf("password key: %w", err)
	}
	ikm := append(append([]byte{}, secret...), p...)
	m, err := hkdf.Extract(sha256.New, ikm, []byte("veil/master"))
	if err != nil {
		return k, fmt.Errorf("master key: %w", err)
	}
	for _, out := range []struct {
		info string
		dst  *[32]byte
	}{{"veil/join", &k.Join}, {"veil/roster", &k.Roster}, {"veil/msg", &k.Msg}} {
		b, err := hkdf.Expand(sha256.New, m, out.info, 32)
		if err != nil {
			return k, fmt.Errorf("expand %s: %w", out.info, err)
		}
		copy(out.dst[:], b)
	}
	k.Verifier = sha256.Sum256(k.Join[:])
	return k, nil
}

// Link is a parsed room link.
type Link struct {
	Base     string // scheme and host, e.g. "https://veil.example"; empty for a bare fragment
	Secret   [SecretLen]byte
	Password bool // the room has a password
}

// ErrBadLink is wrapped by every link-parsing error.
var ErrBadLink = errors.New("bad link")

// ParseLink parses "https://HOST/#1.SECRET", "https://HOST/#1p.SECRET" or
// just the fragment.
func ParseLink(s string) (Link, error) {
	var l Link
	base, frag, found := strings.Cut(strings.TrimSpace(s), "#")
	if !found {
		if strings.Contains(base, "/") {
			return l, fmt.Errorf("%w: no #fragment with the room secret", ErrBadLink)
		}
		base, frag = "", base
	}
	l.Base = strings.TrimRight(base, "/")
	version, enc, ok := strings.Cut(frag, ".")
	if !ok {
		return l, fmt.Errorf("%w: fragment is not VERSION.SECRET", ErrBadLink)
	}
	switch version {
	case "1":
	case "1p":
		l.Password = true
	default:
		return l, fmt.Errorf("%w: unknown link version %q", ErrBadLink, version)
	}
	sec, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(sec) != SecretLen {
		return l, fmt.Errorf("%w: the secret is not 32 bytes of base64url", ErrBadLink)
	}
	copy(l.Secret[:], sec)
	return l, nil
}

// String formats l as a link.
func (l Link) String() string {
	v := "1"
	if l.Password {
		v = "1p"
	}
	return l.Base + "/#" + v + "." + base64.RawURLEncoding.EncodeToString(l.Secret[:])
}
