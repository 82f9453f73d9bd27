package limit

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func req(remote string, xff ...string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestForwardedOnlyFromTrustedProxies(t *testing.T) {
	k := NewKeyer([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	tests := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"direct client", req("198.51.100.7:5555"), "198.51.100.7"},
		{"spoofed header from a client", req("198.51.100.7:5555", "203.0.113.9"), "198.51.100.7"},
		{"through a trusted proxy", req("10.1.2.3:80", "203.0.113.9"), "203.0.113.9"},
		{"chain of trusted proxies", req("10.1.2.3:80", "203.0.113.9, 10.9.9.9"), "203.0.113.9"},
		{"client spoofs beyond the proxy", req("10.1.2.3:80", "1.2.3.4, 203.0.113.9"), "203.0.113.9"},
		{"garbage in the chain", req("10.1.2.3:80", "nonsense"), "10.1.2.3"},
		{"ipv6 proxy", req("[::1]:80", "2001:db8::5"), "2001:db8::5"},
	}
	for _, tc := range tests {
		if got := k.Addr(tc.r).String(); got != tc.want {
			t.Errorf("%s: Addr = %s, want %s", tc.name, got, tc.want)
		}
	}
	if k.Key(req("198.51.100.7:1")) != k.Key(req("198.51.100.7:2")) {
		t.Error("the same address gave two keys")
	}
	if NewKeyer(nil).Key(req("198.51.100.7:1")) == k.Key(req("198.51.100.7:1")) {
		t.Error("two processes' keys agree: the key is not random per process")
	}
}

func TestCounterCapsAndForgets(t *testing.T) {
	c := NewCounter(2, 3)
	a, b := Key{1}, Key{2}
	for range 2 {
		if err := c.Acquire(a); err != nil {
			t.Fatalf("one of the first two refused: %v", err)
		}
	}
	if err := c.Acquire(a); err != ErrPerKey {
		t.Fatalf("third for one key = %v, want ErrPerKey", err)
	}
	if c.Acquire(b) != nil {
		t.Fatal("another key refused")
	}
	if err := c.Acquire(Key{3}); err != ErrTotal {
		t.Fatalf("over the total = %v, want ErrTotal", err)
	}
	c.Release(a)
	c.Release(a)
	c.Release(b)
	if c.Len() != 0 {
		t.Fatalf("%d keys still held after every release", c.Len())
	}
}

func TestRatesLimitEachKeyAndForgetIdleOnes(t *testing.T) {
	r := NewRates(60, 3, 2) // one a second, bursts of 3, two keys at most
	now := time.Unix(1e9, 0)
	a, b, c := Key{1}, Key{2}, Key{3}
	for i := range 3 {
		if err := r.Allow(a, now); err != nil {
			t.Fatalf("creation %d of the burst refused: %v", i+1, err)
		}
	}
	if err := r.Allow(a, now); err != ErrRate {
		t.Fatalf("past the burst = %v, want ErrRate", err)
	}
	if err := r.Allow(b, now); err != nil {
		t.Fatalf("another address refused: %v", err)
	}
	if err := r.Allow(c, now); err != ErrRateFull {
		t.Fatalf("a third key while two are held = %v, want ErrRateFull", err)
	}
	if err := r.Allow(a, now.Add(time.Second)); err != nil {
		t.Fatalf("after a second's refill: %v", err)
	}
	// Keys whose buckets are full again are forgotten when room is needed.
	later := now.Add(10 * time.Second)
	for _, k := range []Key{c, {4}} {
		if err := r.Allow(k, later); err != nil {
			t.Fatalf("a new address once the others refilled: %v", err)
		}
	}
	if r.Len() != 2 {
		t.Fatalf("%d keys held, want the two just used", r.Len())
	}
}
