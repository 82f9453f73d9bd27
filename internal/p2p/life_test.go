package p2p

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"veil/internal/client"
	"veil/internal/protocol"
)

// room starts a room of n peers on loopback, the first one's address in
// the link, and waits until every member reads every other.
func room(t testing.TB, n int, ttl time.Duration, policy byte) (Link, [32]byte, []*member) {
	t.Helper()
	l, owner := newLink(t, ttl, policy)
	first := joinAs(t, l, Options{NoMDNS: true}, "p0")
	l.Peers = []peer.AddrInfo{first.r.Addrs()}
	ms := []*member{first}
	for i := 1; i < n; i++ {
		ms = append(ms, joinAs(t, l, Options{NoMDNS: true, Wait: 10 * time.Second}, string(rune('a'+i))+"-peer"))
	}
	settle(t, ms)
	return l, owner, ms
}

// closedWith waits for m's session to end with code.
func (m *member) closedWith(t *testing.T, code int) {
	t.Helper()
	m.await(t, "the room closing", func(evs []client.Event) bool {
		for _, e := range evs {
			if e.Type == "closed" {
				if e.Code != code {
					t.Fatalf("%s: closed with %d %q, want %d", m.name, e.Code, e.Text, code)
				}
				return true
			}
		}
		return false
	})
}

// errorWith waits for an error event with code and text.
func (m *member) errorWith(t *testing.T, code int, text string) {
	t.Helper()
	m.await(t, fmt.Sprintf("error %d %q", code, text), func(evs []client.Event) bool {
		for _, e := range evs {
			if e.Type == "error" && e.Code == code && e.Text == text {
				return true
			}
		}
		return false
	})
}

// Two peers that know nothing but the link's secret find each other on
// the LAN (loopback here) by mDNS and talk.
func TestRoomFoundByMDNS(t *testing.T) {
	l, _ := newLink(t, 10*time.Minute, protocol.PolicyAnyone)
	a := joinAs(t, l, Options{}, "a")
	b := joinAs(t, l, Options{Wait: 20 * time.Second}, "b")
	if b.r.Members() != 1 {
		t.Fatalf("b found %d members by mDNS, want 1", b.r.Members())
	}
	ms := []*member{a, b}
	settle(t, ms)
	exchange(t, ms, "over mdns", 3)
}

// A member may not purge a room only its owner may purge; the owner key
// purges it from any member's session, and every peer is told and leaves.
func TestPurgeByOwner(t *testing.T) {
	_, owner, ms := room(t, 3, 10*time.Minute, protocol.PolicyOwner)
	if err := ms[1].c.Purge(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	ms[1].errorWith(t, protocol.CodeNotAllowed, "only the owner may purge this room")
	wrong := owner
	wrong[0] ^= 1
	ms[1].c.Purge(t.Context(), &wrong)
	ms[1].errorWith(t, protocol.CodeNotAllowed, "wrong owner key")
	exchange(t, ms, "still here", 1)
	if err := ms[2].c.Purge(t.Context(), &owner); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		m.closedWith(t, protocol.ClosePurged)
	}
}

// In a room anyone may purge, a member's signed purge ends it everywhere.
func TestPurgeByAnyone(t *testing.T) {
	_, _, ms := room(t, 3, 10*time.Minute, protocol.PolicyAnyone)
	if err := ms[1].c.Purge(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		m.closedWith(t, protocol.ClosePurged)
	}
}

// Every peer ends the room at its deadline by its own clock, and a link
// past its deadline is refused before any peer is looked for.
func TestDeadline(t *testing.T) {
	_, _, ms := room(t, 2, 4*time.Second, protocol.PolicyAnyone)
	for _, m := range ms {
		m.closedWith(t, protocol.CloseExpired)
	}
	l, _ := newLink(t, time.Second, protocol.PolicyAnyone)
	l.Ends = time.Now().Add(-time.Second)
	_, _, err := Join(t.Context(), l, Options{Listen: loopback, NoMDNS: true}, client.Config{})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseExpired {
		t.Fatalf("joining an expired room: %v", err)
	}
}

// A member that closes or logs out is told to the others as such, not
// as dropped; owner powers that need a server are refused with a reason.
func TestLeavingAndRefusals(t *testing.T) {
	_, _, ms := room(t, 3, 10*time.Minute, protocol.PolicyAnyone)
	if err := ms[0].c.Kick(t.Context(), ms[1].c.Session()); err != nil {
		t.Fatal(err)
	}
	ms[0].errorWith(t, protocol.CodeNotAllowed, "a peer-to-peer room cannot kick or lock: no server is there to enforce it")
	ms[1].c.Close()
	if err := ms[2].c.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	ms[2].closedWith(t, protocol.CloseNormal)
	ms[0].await(t, "both leaving", func(evs []client.Event) bool {
		var left, out bool
		for _, e := range evs {
			left = left || e.Type == "leave" && e.From.Alias == ms[1].name && e.Text == "left"
			out = out || e.Type == "leave" && e.From.Alias == ms[2].name && e.Text == "logged out"
		}
		return left && out
	})
}

// A password room: a peer with the wrong password hears the members but
// opens none of their announcements, and is told so.
func TestWrongPassword(t *testing.T) {
	l, _ := NewRoom(true, 10*time.Minute, protocol.PolicyAnyone, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, r, err := Join(ctx, l, Options{Listen: loopback, NoMDNS: true}, client.Config{Password: "right horse"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range c.Events() {
		}
	}()
	l.Peers = []peer.AddrInfo{r.Addrs()}
	_, _, err = Join(ctx, l, Options{Listen: loopback, NoMDNS: true, Wait: 5 * time.Second}, client.Config{Password: "wrong horse"})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseWrongPassword {
		t.Fatalf("joining with the wrong password: %v", err)
	}
	c2, r2, err := Join(ctx, l, Options{Listen: loopback, NoMDNS: true, Wait: 5 * time.Second}, client.Config{Password: "right horse"})
	if err != nil {
		t.Fatalf("joining with the right password: %v", err)
	}
	defer c2.Close()
	if r2.Members() != 1 {
		t.Errorf("with the right password, %d members, want 1", r2.Members())
	}
}

// A file goes to the room in sealed chunks over the topic, paced, and
// arrives whole and verified.
func TestFileOverP2P(t *testing.T) {
	_, _, ms := room(t, 3, 10*time.Minute, protocol.PolicyAnyone)
	data := make([]byte, 1<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := ms[0].c.SendFile(t.Context(), 0, "notes.bin", "application/octet-stream", data, false); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[1:] {
		m.await(t, "the file", func(evs []client.Event) bool {
			for _, e := range evs {
				if e.Type == "file" && string(e.Data) == string(data) && e.File.Name == "notes.bin" {
					return true
				}
				if e.Type == "file-failed" {
					t.Fatalf("%s: the file failed: %s", m.name, e.Text)
				}
			}
			return false
		})
	}
}
