package p2p

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"veil/internal/client"
	"veil/internal/protocol"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0"}

// member is one peer's session, with every event it saw.
type member struct {
	name string
	c    *client.Client
	r    *Room
	mu   sync.Mutex
	evs  []client.Event
	done chan struct{}
}

// joinAs joins l as alias on loopback, without mDNS unless o says
// otherwise, and keeps the session's events.
func joinAs(t testing.TB, l Link, o Options, alias string) *member {
	t.Helper()
	if o.Listen == nil {
		o.Listen = loopback
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, r, err := Join(ctx, l, o, client.Config{Alias: alias})
	if err != nil {
		t.Fatalf("%s joins: %v", alias, err)
	}
	m := &member{name: alias, c: c, r: r, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for e := range c.Events() {
			m.mu.Lock()
			m.evs = append(m.evs, e)
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return m
}

// await polls, for up to 30 s, until ok holds of m's events.
func (m *member) await(t testing.TB, what string, ok func([]client.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ok(m.events()) {
			return
		}
		if time.Now().After(deadline) {
			m.mu.Lock()
			defer m.mu.Unlock()
			t.Fatalf("%s: no %s within 30 s; events: %+v", m.name, what, m.evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *member) events() []client.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]client.Event(nil), m.evs...)
}

// texts returns the message bodies m received from alias.
func (m *member) texts(from string) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for _, e := range m.evs {
		if e.Type == "msg" && e.From.Alias == from {
			out[e.Text] = true
		}
	}
	return out
}

// has reports whether m saw an event of typ from alias.
func has(evs []client.Event, typ, alias string) bool {
	for _, e := range evs {
		if e.Type == typ && e.From.Alias == alias {
			return true
		}
	}
	return false
}

// settle has every member say numbered probes until every member has read
// one from every other: from then on each holds every other's key.
func settle(t testing.TB, ms []*member) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for k := 0; ; k++ {
		all := true
		for _, a := range ms {
			for _, b := range ms {
				if a != b && len(a.texts(b.name)) == 0 {
					all = false
				}
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the members never all read each other within 30 s")
		}
		for _, a := range ms {
			a.c.Say(t.Context(), fmt.Sprintf("probe %d", k), 0)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exchange has every member of ms say n messages tagged with tag, and
// checks that every other member reads all of them.
func exchange(t *testing.T, ms []*member, tag string, n int) {
	t.Helper()
	for _, a := range ms {
		for i := range n {
			if err := a.c.Say(t.Context(), fmt.Sprintf("%s %s %d", tag, a.name, i), 0); err != nil {
				t.Fatalf("%s says: %v", a.name, err)
			}
		}
	}
	for _, b := range ms {
		for _, a := range ms {
			if a == b {
				continue
			}
			b.await(t, fmt.Sprintf("%s messages from %s", tag, a.name), func([]client.Event) bool {
				got := b.texts(a.name)
				for i := range n {
					if !got[fmt.Sprintf("%s %s %d", tag, a.name, i)] {
						return false
					}
				}
				return true
			})
		}
	}
}

func newLink(t testing.TB, ttl time.Duration, policy byte) (Link, [32]byte) {
	t.Helper()
	return NewRoom(false, ttl, policy, nil)
}

// Five peers on loopback form a room from the first one's address; every
// message reaches every member; one peer dies and the rest go on, told it
// dropped; a late peer that knows only a bootstrap node in no room finds
// the room through the DHT rendezvous.
func TestRoomOverFivePeers(t *testing.T) {
	boot, err := New(t.Context(), Config{Listen: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boot.Close() })
	bootInfo := peer.AddrInfo{ID: boot.Host.ID(), Addrs: boot.Host.Addrs()}

	l, _ := newLink(t, 10*time.Minute, protocol.PolicyAnyone)
	first := joinAs(t, l, Options{NoMDNS: true, Bootstrap: []peer.AddrInfo{bootInfo}}, "p0")
	l.Peers = []peer.AddrInfo{first.r.Addrs()}
	ms := []*member{first}
	for i := 1; i < 5; i++ {
		ms = append(ms, joinAs(t, l, Options{NoMDNS: true, Wait: 10 * time.Second}, fmt.Sprintf("p%d", i)))
	}
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				a.await(t, "join of "+b.name, func(evs []client.Event) bool { return has(evs, "join", b.name) || memberOf(a.c, b.name) })
			}
		}
	}
	settle(t, ms)
	exchange(t, ms, "all five", 5)

	// p2 dies without a word.
	dead := ms[2]
	dead.r.CloseNow()
	<-dead.done
	rest := []*member{ms[0], ms[1], ms[3], ms[4]}
	for _, m := range rest {
		m.await(t, "p2 dropping", func(evs []client.Event) bool {
			for _, e := range evs {
				if e.Type == "leave" && e.From.Alias == "p2" && e.Text == "dropped" {
					return true
				}
			}
			return false
		})
	}
	exchange(t, rest, "after p2", 3)

	// A late peer knows only the bootstrap node, which is in no room.
	late := l
	late.Peers = nil
	p5 := joinAs(t, late, Options{NoMDNS: true, Bootstrap: []peer.AddrInfo{bootInfo}, Wait: 20 * time.Second}, "p5")
	all := append(rest, p5)
	settle(t, all)
	exchange(t, all, "with p5", 3)
	for _, m := range rest {
		if got := m.texts("p2"); got["with p5 p2 0"] {
			t.Errorf("%s read from the dead p2", m.name)
		}
	}
}

func memberOf(c *client.Client, alias string) bool {
	_, err := c.Member(alias)
	return err == nil
}
