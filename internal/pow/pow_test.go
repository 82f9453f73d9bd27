package pow

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"
)

func TestProofsAreCheckedAndSpentOnce(t *testing.T) {
	g := New(12)
	now := time.Unix(2e9, 0)
	c := g.Challenge(now)
	proof, err := Solve(c, 12, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Check(proof, now.Add(time.Second)); err != nil {
		t.Fatalf("a right proof: %v", err)
	}
	if err := g.Check(proof, now.Add(time.Second)); err != ErrInvalid {
		t.Fatalf("the same proof twice = %v, want ErrInvalid", err)
	}
	fresh, _ := Solve(g.Challenge(now), 12, nil)
	if err := g.Check(fresh, now.Add(Lifetime+time.Second)); err != ErrInvalid {
		t.Fatalf("an expired proof = %v, want ErrInvalid", err)
	}
	if err := g.Check("", now); err != ErrMissing {
		t.Fatalf("no proof = %v, want ErrMissing", err)
	}
	// A challenge from another process (another key) is refused.
	other, _ := Solve(New(12).Challenge(now), 12, nil)
	if err := g.Check(other, now); err != ErrInvalid {
		t.Fatalf("another server's challenge = %v", err)
	}
	// Too little work is refused.
	weak := g.Challenge(now)
	raw := mustDecode(t, weak)
	for n := uint64(0); n < 1000; n++ {
		if Work(raw, n) < 12 {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], n)
			if err := g.Check(weak+"."+base64.RawURLEncoding.EncodeToString(b[:]), now); err != ErrInvalid {
				t.Fatalf("a proof of %d bits = %v, want ErrInvalid", Work(raw, n), err)
			}
			break
		}
	}
	for _, bad := range []string{"x", "a.b", c + ".AAAA", c} {
		if err := g.Check(bad, now); err != ErrInvalid {
			t.Errorf("Check(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := New(0).Check("", now); err != nil {
		t.Fatalf("a gate of 0 bits asked for work: %v", err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzCheck(f *testing.F) {
	g := New(4)
	now := time.Unix(2e9, 0)
	p, _ := Solve(g.Challenge(now), 4, nil)
	f.Add(p)
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, proof string) {
		err := g.Check(proof, now)
		if err != nil && err != ErrInvalid && err != ErrMissing && err != ErrBusy {
			t.Fatalf("Check = %v", err)
		}
	})
}
