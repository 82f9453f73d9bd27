package client

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/e2ee"
	"veil/internal/protocol"
	"veil/internal/vtest"
)

func TestMain(m *testing.M) { vtest.Main(m) }

// dial joins rm as alias through the real relay of s.
func dial(t *testing.T, rm *vtest.Room, alias string, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{Link: rm.Link, Password: rm.Password, Alias: alias}
	for _, f := range mod {
		f(&cfg)
	}
	c, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", alias, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect reads events until one of type typ (and text, if not empty)
// arrives within 10 seconds, and returns it.
func expect(t *testing.T, c *Client, typ, text string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("%s: events ended waiting for %s %q", c.Alias(), typ, text)
			}
			if e.Type == typ && (text == "" || e.Text == text) {
				return e
			}
			if e.Type == "closed" {
				t.Fatalf("%s: closed (%s) waiting for %s %q", c.Alias(), e.Text, typ, text)
			}
		case <-timeout:
			t.Fatalf("%s: no %s %q within 10s", c.Alias(), typ, text)
		}
	}
}

// next returns c's next event within 10 seconds.
func next(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case e, ok := <-c.Events():
		if !ok {
			t.Fatalf("%s: events ended", c.Alias())
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no event within 10s", c.Alias())
	}
	panic("unreachable")
}

// joined waits until c knows n other members.
func joined(t *testing.T, c *Client, n int) {
	t.Helper()
	vtest.Poll(t, "members", func() bool { return len(c.Members()) == n })
}

// settle waits until every client can read every other's group messages:
// each says a marker that all others receive.
func settle(t *testing.T, cs ...*Client) {
	t.Helper()
	for _, c := range cs {
		joined(t, c, len(cs)-1)
	}
	for _, c := range cs {
		mark := "settle-" + c.Alias()
		if err := c.Say(t.Context(), mark, 0); err != nil {
			t.Fatal(err)
		}
		for _, o := range cs {
			if o != c {
				expect(t, o, "msg", mark)
			}
		}
	}
}

func TestGroupChatAndDirectMessages(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "pw"})
	a := dial(t, rm, "alice")
	b := dial(t, rm, "bob")
	c := dial(t, rm, "carol", func(c *Config) { c.NoMLKEM = true })
	settle(t, a, b, c)

	if err := a.Say(t.Context(), "hello **all**", 30); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Client{b, c} {
		if e := expect(t, o, "msg", "hello **all**"); e.From.Alias != "alice" || e.TTL != 30 {
			t.Fatalf("%s got %+v", o.Alias(), e)
		}
	}
	// Member safety codes are the same on both sides of each pair.
	ab, _ := a.Member("bob")
	ba, _ := b.Member("alice")
	if ab.Safety == "" || ab.Safety != ba.Safety {
		t.Fatalf("member safety codes differ: %q vs %q", ab.Safety, ba.Safety)
	}
	// A DM between two Go clients is hybrid and reaches only its recipient.
	if err := a.DM(t.Context(), ab.Session, "just for bob"); err != nil {
		t.Fatal(err)
	}
	dm := expect(t, b, "dm", "just for bob")
	if !dm.Hybrid || dm.Safety == "" || dm.Safety != a.DMSafety(ab.Session) {
		t.Fatalf("bob's DM %+v; alice's safety %q", dm, a.DMSafety(ab.Session))
	}
	if err := b.DM(t.Context(), ba.Session, "thanks alice"); err != nil {
		t.Fatal(err)
	}
	expect(t, a, "dm", "thanks alice")
	// A DM with a client without ML-KEM is X25519 only, both ways.
	ac, _ := a.Member("carol")
	if err := a.DM(t.Context(), ac.Session, "carol only"); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, c, "dm", "carol only"); e.Hybrid {
		t.Fatalf("carol's DM claims ML-KEM: %+v", e)
	}
	// carol never saw the DMs between alice and bob: her next message event
	// is the group one.
	a.Say(t.Context(), "after the DMs", 0)
	for {
		e := <-c.Events()
		if e.Type == "dm" || e.Type == "msg" {
			if e.Text != "after the DMs" {
				t.Fatalf("carol saw %+v", e)
			}
			break
		}
	}
}

func TestSimultaneousDMOffers(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	b := dial(t, rm, "b")
	settle(t, a, b)
	ab, _ := a.Member("b")
	ba, _ := b.Member("a")
	var wg sync.WaitGroup
	wg.Go(func() { a.DM(t.Context(), ab.Session, "from a") })
	wg.Go(func() { b.DM(t.Context(), ba.Session, "from b") })
	wg.Wait()
	expect(t, b, "dm", "from a")
	expect(t, a, "dm", "from b")
	if a.DMSafety(ab.Session) != b.DMSafety(ba.Session) {
		t.Fatal("the two sides settled on different DM sessions")
	}
}

func TestNewcomerReadsNoHistory(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	b := dial(t, rm, "b")
	settle(t, a, b)
	a.Say(t.Context(), "before", 0)
	expect(t, b, "msg", "before")
	n := dial(t, rm, "n")
	settle(t, a, b, n)
	a.Say(t.Context(), "after", 0)
	expect(t, n, "msg", "after")
}

func TestAliasesMadeDistinct(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "sam")
	// Once a member who joined after sam knows sam, the relay holds sam's
	// hello, so the next WELCOME lists it.
	o := dial(t, rm, "observer")
	joined(t, o, 1)
	b := dial(t, rm, "Sam\u200b")
	if a.Alias() != "sam" || b.Alias() != "Sam-2" {
		t.Fatalf("aliases %q and %q", a.Alias(), b.Alias())
	}
}

// A member who left decrypts nothing of the epoch that follows, even with
// every frame in hand.
func TestLeaverReadsNothingAfter(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	var mu sync.Mutex
	var seen [][]byte // every envelope b receives
	a := dial(t, rm, "a")
	b := dial(t, rm, "b", func(c *Config) {
		c.Tap = func(dir string, f []byte) {
			if dir == "in" && len(f) > 0 && f[0] == protocol.TypeEnvelope {
				mu.Lock()
				seen = append(seen, f[1:])
				mu.Unlock()
			}
		}
	})
	k := dial(t, rm, "k")
	settle(t, a, b, k)
	if err := k.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	expect(t, a, "leave", "logged out")
	expect(t, b, "leave", "logged out")
	mu.Lock()
	seen = nil
	mu.Unlock()
	for i := range 5 {
		a.Say(t.Context(), "after k left "+string(rune('0'+i)), 0)
		expect(t, b, "msg", "after k left "+string(rune('0'+i)))
	}
	// k's client still holds its keys and a's old chain; feed it the frames.
	mu.Lock()
	frames := seen
	mu.Unlock()
	k.mu.Lock()
	k.closed = nil
	opened := 0
	for _, env := range frames {
		h, err := protocol.ParseHeader(env)
		if err != nil || h.Kind != protocol.KindMsg {
			continue
		}
		h.To = 0
		evs, err := k.envelopeLocked(t.Context(), env, h)
		if err == nil {
			for _, e := range evs {
				if e.Type == "msg" {
					opened++
				}
			}
		}
	}
	k.mu.Unlock()
	if len(frames) < 5 || opened != 0 {
		t.Fatalf("the leaver opened %d of %d frames of the next epoch", opened, len(frames))
	}
}

func TestEpochRotatesAfter100Messages(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Relay: vtest.Unthrottled})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	var mu sync.Mutex
	epochs := map[uint32]bool{}
	a := dial(t, rm, "a", func(c *Config) {
		c.Tap = func(dir string, f []byte) {
			if h, err := protocol.ParseHeader(f[1:]); dir == "out" && err == nil && h.Kind == protocol.KindMsg {
				mu.Lock()
				epochs[h.Epoch] = true
				mu.Unlock()
			}
		}
	})
	b := dial(t, rm, "b")
	settle(t, a, b)
	for i := range 150 {
		if err := a.Say(t.Context(), "n", 0); err != nil {
			t.Fatal(err)
		}
		if e := expect(t, b, "msg", "n"); e.Type != "msg" {
			t.Fatalf("message %d: %+v", i, e)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(epochs) != 2 {
		t.Fatalf("151 messages used epochs %v, want 2 epochs", epochs)
	}
}

func TestEpochRotatesAfterTenMinutes(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := dial(t, rm, "a", func(c *Config) { c.Now = clock })
	b := dial(t, rm, "b")
	settle(t, a, b)
	before := a.group.epoch
	mu.Lock()
	now = now.Add(e2ee.EpochAge)
	mu.Unlock()
	a.Say(t.Context(), "ten minutes later", 0)
	expect(t, b, "msg", "ten minutes later")
	if a.group.epoch != before+1 {
		t.Fatalf("epoch %d after ten minutes, want %d", a.group.epoch, before+1)
	}
}

func TestRefusals(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "right"})
	_, err := Dial(t.Context(), Config{Link: rm.Link, Password: "wrong"})
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseWrongPassword {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := Dial(t.Context(), Config{Link: rm.Link}); err == nil || !strings.Contains(err.Error(), "needs a password") {
		t.Fatalf("no password: %v", err)
	}
	if _, err := Dial(t.Context(), Config{Link: "not a link"}); !errors.Is(err, e2ee.ErrBadLink) {
		t.Fatalf("bad link: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	l, _ := e2ee.ParseLink(rm.Link)
	dead := e2ee.Link{Base: l.Base, Secret: [32]byte{1, 2, 3}}.String()
	if _, err := Dial(ctx, Config{Link: dead}); !errors.As(err, &ce) || ce.Code != protocol.CloseNotFound {
		t.Fatalf("unknown room: %v", err)
	}
}

func TestResumesAfterNetworkDrop(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	p := vtest.NewCutProxy(t, strings.TrimPrefix(s.URL, "http://"))
	_, frag, _ := strings.Cut(rm.Link, "#")
	viaProxy := &vtest.Room{Link: "http://" + p.Addr + "/#" + frag}
	a := dial(t, rm, "a")
	b := dial(t, viaProxy, "b", func(c *Config) { c.Reconnect = true })
	settle(t, a, b)
	session := b.Session()
	p.Block(true)
	p.Cut()
	expect(t, b, "reconnecting", "")
	rmLive := s.Rooms.Get(b.keys.RID)
	vtest.Poll(t, "the relay to notice the drop", func() bool { return !rmLive.Attached(session) })
	// Sent while b is away: the relay holds it for b.
	a.Say(t.Context(), "while you were away", 0)
	p.Block(false)
	expect(t, b, "reconnected", "")
	expect(t, b, "msg", "while you were away")
	if b.Session() != session {
		t.Fatalf("session %d after resume, want %d", b.Session(), session)
	}
	b.Say(t.Context(), "back", 0)
	expect(t, a, "msg", "back")
}
