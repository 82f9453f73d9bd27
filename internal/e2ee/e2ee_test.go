package e2ee

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"veil/internal/protocol"
)

func TestSealOpen(t *testing.T) {
	k, err := DeriveRoom(bytes.Repeat([]byte{1}, 32), "")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := NewIdentity()
	other, _ := NewIdentity()
	h := protocol.Header{Version: 1, Suite: SuiteV1, Kind: protocol.KindMsg, RID: k.RID, Sender: 3, Seq: 1}
	for _, n := range []int{0, 1, 252, 253, 5000, MaxData} {
		data := bytes.Repeat([]byte("x"), n)
		env, err := Seal(h, k.Msg[:], id.Ed, data, nil)
		if err != nil {
			t.Fatalf("Seal(%d bytes) = %v", n, err)
		}
		_, got, err := Open(env, k.Msg[:], id.EdPub())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Open(Seal(%d bytes)) = %d bytes, %v", n, len(got), err)
		}
		if _, _, err := Open(env, k.Msg[:], other.EdPub()); !errors.Is(err, ErrBadSig) {
			t.Fatalf("Open with another member's key = %v, want ErrBadSig", err)
		}
	}
	if _, err := Seal(h, k.Msg[:], id.Ed, make([]byte, MaxData+1), nil); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Seal(too long) = %v", err)
	}
}

func TestHelloRoundTrip(t *testing.T) {
	k, _ := DeriveRoom(bytes.Repeat([]byte{2}, 32), "")
	id, _ := NewIdentity()
	alias := strings.Repeat("<", MaxAlias)
	env, err := SealHello(k, 5, 1, id, alias, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) > protocol.MaxHello {
		t.Fatalf("hello of %d bytes is over the relay's %d", len(env), protocol.MaxHello)
	}
	m, _, err := OpenHello(k, env)
	if err != nil || m.Alias != alias || m.Session != 5 {
		t.Fatalf("OpenHello = %+v, %v", m, err)
	}
	other, _ := DeriveRoom(bytes.Repeat([]byte{3}, 32), "")
	if _, _, err := OpenHello(other, env); err == nil {
		t.Fatal("a hello opened under another room's keys")
	}
}

func TestParseLinkErrors(t *testing.T) {
	for _, s := range []string{"", "https://x/", "https://x/#1", "https://x/#3.AAAA", "#1p.@@@@"} {
		if _, err := ParseLink(s); !errors.Is(err, ErrBadLink) {
			t.Errorf("ParseLink(%q) = %v, want ErrBadLink", s, err)
		}
	}
	l := Link{Base: "https://veil.example", Secret: [32]byte{9}, Password: true}
	got, err := ParseLink(l.String())
	if err != nil || got != l {
		t.Fatalf("ParseLink(%q) = %+v, %v", l.String(), got, err)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := DeriveRoom(bytes.Repeat([]byte{4}, 32), "")
	id, _ := NewIdentity()
	h := protocol.Header{Version: 1, Suite: SuiteV1, Kind: protocol.KindMsg, RID: k.RID, Sender: 3, Seq: 1}
	env, _ := Seal(h, k.Msg[:], id.Ed, []byte("hello"), nil)
	f.Add(env)
	hello, _ := SealHello(k, 3, 2, id, "a", nil, nil)
	f.Add(hello)
	f.Fuzz(func(t *testing.T, b []byte) {
		Open(b, k.Msg[:], id.EdPub())
		OpenHello(k, b)
		Unpad(b)
		ParseLink(string(b))
		NormalizeAlias(string(b))
	})
}

func TestUnpadRejects(t *testing.T) {
	good, _ := Pad([]byte("hi"))
	for name, p := range map[string][]byte{
		"too short":        {0, 0, 0},
		"not a bucket":     make([]byte, 300),
		"length too large": append([]byte{0, 0, 1, 0}, make([]byte, 252)...),
		"dirty padding":    append(append([]byte{}, good[:255]...), 1),
	} {
		if _, err := Unpad(p); !errors.Is(err, ErrBadPad) {
			t.Errorf("Unpad(%s) = %v, want ErrBadPad", name, err)
		}
	}
}
