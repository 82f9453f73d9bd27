// Package limit keys per-address limits without keeping addresses: an
// address is reduced to a keyed hash whose key is random per process, held
// in memory only, and forgotten when its count drops to zero. Behind a
// reverse proxy the forwarded address is honoured only from trusted ranges.
// It never logs.
package limit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Key is the keyed hash of one client address.
type Key [16]byte

// Keyer turns requests into Keys.
type Keyer struct {
	secret  [32]byte       // set at construction, random per process
	trusted []netip.Prefix // proxies whose X-Forwarded-For is believed
}

// NewKeyer returns a Keyer with a fresh random key. Requests that come from
// a trusted proxy are keyed by the nearest untrusted address in their
// X-Forwarded-For header.
func NewKeyer(trusted []netip.Prefix) *Keyer {
	k := &Keyer{trusted: trusted}
	rand.Read(k.secret[:])
	return k
}

func (k *Keyer) isTrusted(a netip.Addr) bool {
	for _, p := range k.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client address of r, honouring X-Forwarded-For only
// when the peer is a trusted proxy.
func (k *Keyer) Addr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap()
	if !k.isTrusted(a) {
		return a
	}
	// Walk the chain from the nearest hop outwards; the first address that
	// is not one of our proxies is the client.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return a // a malformed chain: key on the proxy itself
		}
		h = h.Unmap()
		if !k.isTrusted(h) {
			return h
		}
		a = h
	}
	return a
}

// Key returns the keyed hash of r's client address.
func (k *Keyer) Key(r *http.Request) Key {
	a := k.Addr(r)
	m := hmac.New(sha256.New, k.secret[:])
	b, _ := a.MarshalBinary()
	m.Write(b)
	var out Key
	copy(out[:], m.Sum(nil))
	return out
}

// Counter counts live things (connections) per Key, within a cap per key
// and a cap in all.
type Counter struct {
	perKey, total int // set at construction

	mu  sync.Mutex // guards n and all
	n   map[Key]int
	all int
}

// NewCounter returns a Counter allowing perKey per key and total in all.
func NewCounter(perKey, total int) *Counter {
	return &Counter{perKey: perKey, total: total, n: map[Key]int{}}
}

// Errors Acquire returns.
var (
	ErrTotal  = &Error{Status: http.StatusServiceUnavailable, Msg: "the server is at its connection limit; try again later"}
	ErrPerKey = &Error{Status: http.StatusTooManyRequests, Msg: "too many connections from your address"}
)

// Error is a refusal with the HTTP status to answer it with.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Acquire counts one more for k, or refuses. Every success must be paired
// with one Release.
func (c *Counter) Acquire(k Key) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.all >= c.total {
		return ErrTotal
	}
	if c.n[k] >= c.perKey {
		return ErrPerKey
	}
	c.n[k]++
	c.all++
	return nil
}

// Release undoes one Acquire; a key whose count reaches zero is forgotten.
func (c *Counter) Release(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[k]--; c.n[k] <= 0 {
		delete(c.n, k)
	}
	c.all--
}

// Len returns how many keys are held (for tests: eviction).
func (c *Counter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}

// Rates is a token bucket per Key (rooms created per address): rate per
// second, bursts of burst. A key whose bucket has refilled is forgotten, so
// what it holds is bounded by the keys active in the last burst/rate
// seconds, and never more than max keys: past that it refuses everyone
// until some refill (the server is under a flood from many addresses).
type Rates struct {
	rate  rate.Limit // set at construction
	burst int
	max   int

	mu sync.Mutex // guards m and calls
	m  map[Key]*rate.Limiter
	// calls counts Allow calls since the last sweep of refilled keys.
	calls int
}

// NewRates returns per-key limits of perMinute with bursts of burst,
// holding at most max keys.
func NewRates(perMinute float64, burst, max int) *Rates {
	return &Rates{rate: rate.Limit(perMinute / 60), burst: burst, max: max, m: map[Key]*rate.Limiter{}}
}

// ErrRate refuses one more creation from an address over its rate.
var ErrRate = &Error{Status: http.StatusTooManyRequests, Msg: "too many rooms created from your address; try again in a minute"}

// ErrRateFull refuses when too many addresses are being counted at once.
var ErrRateFull = &Error{Status: http.StatusServiceUnavailable, Msg: "the server is busy; try again later"}

// Allow spends one token of k at now, or refuses with ErrRate or ErrRateFull.
func (r *Rates) Allow(k Key, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls++; r.calls >= 1024 || len(r.m) >= r.max {
		r.sweep(now)
	}
	l := r.m[k]
	if l == nil {
		if len(r.m) >= r.max {
			return ErrRateFull
		}
		l = rate.NewLimiter(r.rate, r.burst)
		r.m[k] = l
	}
	if !l.AllowN(now, 1) {
		return ErrRate
	}
	return nil
}

// sweep forgets keys whose buckets are full again.
func (r *Rates) sweep(now time.Time) {
	r.calls = 0
	for k, l := range r.m {
		if l.TokensAt(now) >= float64(r.burst) {
			delete(r.m, k)
		}
	}
}

// Len returns how many keys are held (for tests: eviction).
func (r *Rates) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
