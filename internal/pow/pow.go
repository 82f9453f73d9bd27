// Package pow is veil's optional proof of work for room creation and joins:
// an operator who is flooded from addresses it cannot tell apart (everyone
// behind Tor shares one) can make each creation and each join cost the
// client some CPU. Challenges are stateless (a keyed MAC over a time and
// random bytes, the key random per process); a solved challenge is
// remembered only until it expires, so it cannot be spent twice.
package pow

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"sync"
	"time"
)

// Lifetime is how long a challenge may be solved and spent.
const Lifetime = 2 * time.Minute

// MaxBits is the most work an operator may ask for.
const MaxBits = 28

// ChallengeLen is the size of a challenge: time(8) || random(16) || mac(16).
const ChallengeLen = 40

// Errors of Check.
var (
	ErrMissing = errors.New("this server asks for a proof of work (GET /api/pow)")
	ErrInvalid = errors.New("the proof of work is wrong, expired or already used")
	ErrBusy    = errors.New("the server is busy; try again later")
)

// Gate issues and checks proofs of work of Bits leading zero bits.
type Gate struct {
	Bits int // set at construction; 0 means no proof is asked for
	key  [32]byte
	max  int

	mu    sync.Mutex // guards spent
	spent map[[ChallengeLen]byte]time.Time
}

// New returns a Gate asking for bits of work (0: none).
func New(bits int) *Gate {
	g := &Gate{Bits: bits, max: 100_000, spent: map[[ChallengeLen]byte]time.Time{}}
	rand.Read(g.key[:])
	return g
}

// Enabled reports whether proofs are asked for.
func (g *Gate) Enabled() bool { return g != nil && g.Bits > 0 }

func (g *Gate) mac(b []byte) []byte {
	m := hmac.New(sha256.New, g.key[:])
	m.Write(b)
	return m.Sum(nil)[:16]
}

// Challenge returns a fresh challenge, base64url.
func (g *Gate) Challenge(now time.Time) string {
	var c [ChallengeLen]byte
	binary.BigEndian.PutUint64(c[:8], uint64(now.Unix()))
	rand.Read(c[8:24])
	copy(c[24:], g.mac(c[:24]))
	return base64.RawURLEncoding.EncodeToString(c[:])
}

// Work returns the number of leading zero bits of
// SHA-256("veil/pow" || challenge || nonce).
func Work(challenge []byte, nonce uint64) int {
	h := sha256.New()
	h.Write([]byte("veil/pow"))
	h.Write(challenge)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], nonce)
	h.Write(n[:])
	sum := h.Sum(nil)
	z := 0
	for _, b := range sum {
		if b != 0 {
			return z + bits.LeadingZeros8(b)
		}
		z += 8
	}
	return z
}

// Solve finds a nonce giving bits of work for challenge (base64url) and
// returns the proof "challenge.nonce"; it gives up when stop is closed.
func Solve(challenge string, bits int, stop <-chan struct{}) (string, error) {
	c, err := base64.RawURLEncoding.DecodeString(challenge)
	if err != nil || len(c) != ChallengeLen {
		return "", errors.New("pow: malformed challenge")
	}
	for n := uint64(0); ; n++ {
		if n&0xffff == 0 {
			select {
			case <-stop:
				return "", errors.New("pow: stopped")
			default:
			}
		}
		if Work(c, n) >= bits {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], n)
			return challenge + "." + base64.RawURLEncoding.EncodeToString(b[:]), nil
		}
	}
}

// Check verifies proof ("challenge.nonce", base64url) at now and spends it.
func (g *Gate) Check(proof string, now time.Time) error {
	if !g.Enabled() {
		return nil
	}
	if proof == "" {
		return ErrMissing
	}
	cs, ns, ok := strings.Cut(proof, ".")
	c, err1 := base64.RawURLEncoding.DecodeString(cs)
	n, err2 := base64.RawURLEncoding.DecodeString(ns)
	if !ok || err1 != nil || err2 != nil || len(c) != ChallengeLen || len(n) != 8 {
		return ErrInvalid
	}
	if !hmac.Equal(c[24:], g.mac(c[:24])) {
		return ErrInvalid
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(c[:8])), 0)
	if now.Before(issued.Add(-time.Minute)) || now.After(issued.Add(Lifetime)) {
		return ErrInvalid
	}
	if Work(c, binary.BigEndian.Uint64(n)) < g.Bits {
		return ErrInvalid
	}
	var key [ChallengeLen]byte
	copy(key[:], c)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, used := g.spent[key]; used {
		return ErrInvalid
	}
	if len(g.spent) >= g.max {
		for k, t := range g.spent {
			if now.After(t) {
				delete(g.spent, k)
			}
		}
		if len(g.spent) >= g.max {
			return ErrBusy
		}
	}
	g.spent[key] = issued.Add(Lifetime)
	return nil
}
