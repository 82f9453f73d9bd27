package p2p

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// Scheme starts every p2p link: veil:p2p?peer=MULTIADDR#1.SECRET.PARAMS.
// A link with it names a room that lives on its members' machines only.
const Scheme = "veil:p2p"

// paramsLen is the size of a link's room parameters: a version byte, the
// purge policy, the deadline (Unix seconds) and the owner's public key.
const paramsLen = 1 + 1 + 8 + ed25519.PublicKeySize

// MaxPeers bounds the peer addresses a link may list; String lists the
// first ones only.
const MaxPeers = 16

// Link is a parsed p2p link. The parameters after the secret name the
// room as much as the secret does: the topic is derived from both, so a
// link whose deadline or owner was changed names another, empty room.
type Link struct {
	Room   e2ee.Link // the secret and whether there is a password; no Base
	Policy byte      // protocol.PolicyAnyone or protocol.PolicyOwner
	Ends   time.Time // the room's deadline, enforced by every peer
	Owner  ed25519.PublicKey
	Peers  []peer.AddrInfo // peers to start from (the creator's addresses)
}

// IsLink reports whether s is meant as a p2p link (it may still not parse).
func IsLink(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), Scheme) }

// NewRoom makes a room: a fresh secret, and an owner key whose public half
// the link carries. The caller keeps the owner key's seed.
func NewRoom(password bool, ttl time.Duration, policy byte, peers []peer.AddrInfo) (Link, [32]byte) {
	var l Link
	var seed [32]byte
	rand.Read(l.Room.Secret[:])
	rand.Read(seed[:])
	l.Room.Password = password
	l.Policy = policy
	l.Ends = time.Now().Add(ttl).Truncate(time.Second)
	l.Owner = ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	l.Peers = peers
	return l, seed
}

func (l Link) params() []byte {
	b := make([]byte, 0, paramsLen)
	b = append(b, 1, l.Policy)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Ends.Unix()))
	return append(b, l.Owner...)
}

// String formats l.
func (l Link) String() string {
	var q []string
	for _, p := range l.Peers {
		for _, a := range p.Addrs {
			if len(q) < MaxPeers {
				q = append(q, "peer="+a.String()+"/p2p/"+p.ID.String())
			}
		}
	}
	s := Scheme
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	frag := strings.TrimPrefix(l.Room.String(), "/#")
	return s + "#" + frag + "." + base64.RawURLEncoding.EncodeToString(l.params())
}

// ParseLink parses a p2p link. Every error wraps e2ee.ErrBadLink.
func ParseLink(s string) (Link, error) {
	var l Link
	s = strings.TrimSpace(s)
	if !IsLink(s) {
		return l, fmt.Errorf("%w: not a p2p link (%s…)", e2ee.ErrBadLink, Scheme)
	}
	head, frag, ok := strings.Cut(s, "#")
	if !ok {
		return l, fmt.Errorf("%w: no #fragment with the room secret", e2ee.ErrBadLink)
	}
	i := strings.LastIndexByte(frag, '.')
	if i < 0 {
		return l, fmt.Errorf("%w: the fragment has no room parameters", e2ee.ErrBadLink)
	}
	room, err := e2ee.ParseLink(frag[:i])
	if err != nil {
		return l, err
	}
	l.Room = room
	p, err := base64.RawURLEncoding.Strict().DecodeString(frag[i+1:])
	if err != nil || len(p) != paramsLen || p[0] != 1 {
		return l, fmt.Errorf("%w: the room parameters are not %d bytes of version 1", e2ee.ErrBadLink, paramsLen)
	}
	l.Policy = p[1]
	if l.Policy != protocol.PolicyAnyone && l.Policy != protocol.PolicyOwner {
		return l, fmt.Errorf("%w: unknown purge policy %d", e2ee.ErrBadLink, l.Policy)
	}
	secs := binary.BigEndian.Uint64(p[2:10])
	if secs > 1<<40 {
		return l, fmt.Errorf("%w: the deadline is out of range", e2ee.ErrBadLink)
	}
	l.Ends = time.Unix(int64(secs), 0)
	l.Owner = ed25519.PublicKey(p[10:])
	rest := strings.TrimPrefix(head, Scheme)
	if rest == "" {
		return l, nil
	}
	if rest[0] != '?' {
		return l, fmt.Errorf("%w: unexpected %q after %s", e2ee.ErrBadLink, rest, Scheme)
	}
	q, err := url.ParseQuery(rest[1:])
	if err != nil {
		return l, fmt.Errorf("%w: %v", e2ee.ErrBadLink, err)
	}
	for k := range q {
		if k != "peer" {
			return l, fmt.Errorf("%w: unknown link parameter %q", e2ee.ErrBadLink, k)
		}
	}
	if len(q["peer"]) > MaxPeers {
		return l, fmt.Errorf("%w: more than %d peer addresses", e2ee.ErrBadLink, MaxPeers)
	}
	if l.Peers, err = ParsePeers(q["peer"]); err != nil {
		return l, fmt.Errorf("%w: %v", e2ee.ErrBadLink, err)
	}
	return l, nil
}

// ParsePeers parses multiaddrs that end in /p2p/PEERID, merging the
// addresses of one peer.
func ParsePeers(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range addrs {
		ma, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("peer %q: %v", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(ma)
		if err != nil {
			return nil, fmt.Errorf("peer %q: not a multiaddr ending in /p2p/PEERID", s)
		}
		merged := false
		for i := range out {
			if out[i].ID == ai.ID {
				out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
				merged = true
			}
		}
		if !merged {
			out = append(out, *ai)
		}
	}
	return out, nil
}

// Topic is the room's GossipSub topic and DHT rendezvous name: a hash of
// the secret and the parameters, which names the room to nobody without
// the link.
func (l Link) Topic() string {
	k, err := hkdf.Key(sha256.New, l.Room.Secret[:], []byte("veil/p2p"), "veil/p2p/topic"+string(l.params()), 32)
	if err != nil {
		panic(err) // cannot happen: 32 bytes of SHA-256 output
	}
	return "veil-" + hex.EncodeToString(k)
}

// mdnsName is the room's mDNS service: peers of other rooms on the LAN do
// not answer it, and it says nothing of the room.
func (l Link) mdnsName() string {
	s := sha256.Sum256([]byte(l.Topic()))
	// A bare label: zeroconf here finds nothing for a "_name._udp" form.
	return "v" + hex.EncodeToString(s[:6])
}

// ErrBadOwnerKey is returned for an owner key that is not this room's.
var ErrBadOwnerKey = errors.New("that owner key is not this room's")
