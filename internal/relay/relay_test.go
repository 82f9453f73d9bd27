package relay_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/vtest"
)

func join(t testing.TB, s *vtest.Server, rm *vtest.Room, alias string) *vtest.Client {
	t.Helper()
	c, err := s.Join(t, rm, alias, vtest.DialOptions{})
	if err != nil {
		t.Fatalf("join %s: %v", alias, err)
	}
	return c
}

func TestChatBetweenMembers(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Name: "team"})
	a := join(t, s, rm, "alice")
	b := join(t, s, rm, "bob")
	if got := b.Members[a.Welcome.Session].Alias; got != "alice" {
		t.Fatalf("bob's WELCOME lists alice as %q", got)
	}
	if e := a.Expect("hello"); e.Text != "bob" {
		t.Fatalf("alice saw hello %q, want bob", e.Text)
	}
	if err := a.Say("hi **bob**"); err != nil {
		t.Fatal(err)
	}
	if e := b.Expect("msg"); e.Text != "hi **bob**" || e.From != a.Welcome.Session {
		t.Fatalf("bob got %+v", e)
	}
	if err := b.Say("hi alice"); err != nil {
		t.Fatal(err)
	}
	if e := a.Expect("msg"); e.Text != "hi alice" {
		t.Fatalf("alice got %+v", e)
	}
	if rem := time.Duration(a.Welcome.RemainingMS) * time.Millisecond; rem <= 59*time.Minute || rem > time.Hour {
		t.Fatalf("remaining %v, want about an hour", rem)
	}
}

func TestDirectMessageReachesOnlyItsRecipient(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	c := join(t, s, rm, "c")
	a.Expect("hello")
	a.Expect("hello")
	b.Expect("hello")
	if err := a.DM(b.Welcome.Session, "for b only"); err != nil {
		t.Fatal(err)
	}
	if err := a.Say("for all"); err != nil {
		t.Fatal(err)
	}
	if e := b.Expect("dm"); e.Text != "for b only" {
		t.Fatalf("b got %+v", e)
	}
	// c's next message must be the group one: the DM never reached it.
	if e := c.Expect("msg"); e.Text != "for all" {
		t.Fatalf("c got %+v", e)
	}
	// A DM to a session that is not in the room is refused, not fatal.
	a.Members[12345] = a.Members[b.Welcome.Session]
	if err := a.DM(12345, "nobody"); err != nil {
		t.Fatal(err)
	}
	if e := a.Expect("error"); e.Code != protocol.CloseNotFound {
		t.Fatalf("DM to a stranger: %+v", e)
	}
}

// Invariant 4: a message sent in room A never reaches room B, and ending A
// touches nobody in B.
func TestRoomsAreIsolated(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	ra := s.CreateRoom(t, vtest.CreateOptions{Name: "same name"})
	rb := s.CreateRoom(t, vtest.CreateOptions{Name: "same name"})
	a1 := join(t, s, ra, "a1")
	a2 := join(t, s, ra, "a2")
	b1 := join(t, s, rb, "b1")
	b2 := join(t, s, rb, "b2")
	a1.Expect("hello")
	b1.Expect("hello")
	for i := range 20 {
		if err := a1.Say("room A secret " + string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		a2.Expect("msg")
	}
	if err := a1.Write(protocol.Purge{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := a2.ExpectClose(); code != protocol.ClosePurged {
		t.Fatalf("a2 closed with %d, want %d", code, protocol.ClosePurged)
	}
	// b2's first event after all that is b1's message: nothing of A arrived.
	if err := b1.Say("room B"); err != nil {
		t.Fatal(err)
	}
	if e := b2.Expect("msg"); e.Text != "room B" {
		t.Fatalf("b2 got %+v", e)
	}
	if n := s.Rooms.Len(); n != 1 {
		t.Fatalf("%d rooms left, want 1", n)
	}
}

func TestJoinRefusals(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{MaxMembers: 2}})
	rm := s.CreateRoom(t, vtest.CreateOptions{Password: "pw"})
	bad := *rm
	bad.Password = "wrong"
	tests := []struct {
		name string
		room *vtest.Room
		code websocket.StatusCode
	}{
		{"wrong password", &bad, protocol.CloseWrongPassword},
		{"unknown room", &vtest.Room{Link: strings.Replace(rm.Link, rm.Link[len(rm.Link)-4:], "AAAA", 1)}, protocol.CloseNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Join(t, tc.room, "x", vtest.DialOptions{})
			if got := websocket.CloseStatus(err); got != tc.code {
				t.Fatalf("join = %v, want close %d", err, tc.code)
			}
		})
	}
	join(t, s, rm, "one")
	join(t, s, rm, "two")
	if _, err := s.Join(t, rm, "three", vtest.DialOptions{}); websocket.CloseStatus(err) != protocol.CloseRoomFull {
		t.Fatalf("third join = %v, want %d", err, protocol.CloseRoomFull)
	}
}

func TestPasswordGuessingIsLimited(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	owner := join(t, s, rm, "owner")
	codes := map[websocket.StatusCode]int{}
	for range 12 {
		ws, err := s.Dial(t.Context(), vtest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		guess := &vtest.Client{WS: ws}
		if err := guess.Write(protocol.Join{RID: owner.Keys.RID, Join: [32]byte{7}}); err != nil {
			t.Fatal(err)
		}
		code, _ := vtest.ReadUntilClose(t, ws)
		codes[code]++
	}
	if codes[protocol.CloseWrongPassword] != 10 || codes[protocol.CloseTooMany] != 2 {
		t.Fatalf("12 quick wrong joins closed with %v, want 10 x 4003 then 2 x 4029", codes)
	}
	// While the room is out of guesses the right value gets the same answer,
	// so a guesser cannot tell a hit (guess_test.go: it works again within
	// one refill).
	if _, err := s.Join(t, rm, "friend", vtest.DialOptions{}); err == nil {
		t.Fatal("a join got in during the lockout: a guesser could tell a hit from a miss")
	} else if code, _ := vtest.CloseOf(err); code != protocol.CloseTooMany {
		t.Fatalf("the right join during the lockout: %v", err)
	}
}

func TestLogoutVoidsTheSession(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	a.Expect("hello")
	if err := b.Write(protocol.Logout{}); err != nil {
		t.Fatal(err)
	}
	if code, reason := b.ExpectClose(); code != protocol.CloseNormal || reason != "logged out" {
		t.Fatalf("logout closed with %d %q", code, reason)
	}
	if e := a.Expect("left"); e.From != b.Welcome.Session || e.Reason != protocol.LeftLoggedOut {
		t.Fatalf("a saw %+v", e)
	}
	ws, err := s.Dial(t.Context(), vtest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := &vtest.Client{WS: ws}
	if err := old.Write(protocol.Resume{RID: b.Keys.RID, Token: b.Welcome.Token}); err != nil {
		t.Fatal(err)
	}
	if code, _ := vtest.ReadUntilClose(t, ws); code != protocol.CloseSessionEnded {
		t.Fatalf("resume after logout closed with %d, want %d", code, protocol.CloseSessionEnded)
	}
}

func TestDroppedSessionResumes(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	a.Expect("hello")
	b.WS.CloseNow() // no close frame: a dropped network
	vtest.Poll(t, "the relay to notice the drop", func() bool { return s.Relay.Conns() == 1 })
	// Sent while b is away: held for it and handed over on resume.
	if err := a.Say("while you were away"); err != nil {
		t.Fatal(err)
	}
	if err := a.DM(b.Welcome.Session, "a DM while away"); err != nil {
		t.Fatal(err)
	}
	if err := s.Resume(t, b); err != nil {
		t.Fatal(err)
	}
	if e := b.Expect("msg"); e.Text != "while you were away" {
		t.Fatalf("b got %+v", e)
	}
	if e := b.Expect("dm"); e.Text != "a DM while away" {
		t.Fatalf("b got %+v", e)
	}
	if _, ok := b.Members[a.Welcome.Session]; !ok || len(b.Members) != 1 {
		t.Fatalf("after resume b knows %v, want only a", b.Members)
	}
	if err := a.Say("still here?"); err != nil {
		t.Fatal(err)
	}
	if e := b.Expect("msg"); e.Text != "still here?" {
		t.Fatalf("b got %+v", e)
	}
}

func TestClosedTabLeavesAtOnce(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	a.Expect("hello")
	b.WS.Close(websocket.StatusGoingAway, "tab closed")
	if e := a.Expect("left"); e.From != b.Welcome.Session || e.Reason != protocol.LeftClosed {
		t.Fatalf("a saw %+v", e)
	}
}

func TestPurgePolicy(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Purge: "owner"})
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	a.Expect("hello")
	if err := b.Write(protocol.Purge{}); err != nil {
		t.Fatal(err)
	}
	if e := b.Expect("error"); e.Code != protocol.CodeNotAllowed {
		t.Fatalf("member purge: %+v", e)
	}
	wrong := [32]byte{1}
	if err := b.Write(protocol.Purge{Owner: &wrong}); err != nil {
		t.Fatal(err)
	}
	if e := b.Expect("error"); e.Code != protocol.CodeNotAllowed {
		t.Fatalf("wrong owner key: %+v", e)
	}
	if err := b.Write(protocol.Purge{Owner: &rm.Owner}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*vtest.Client{a, b} {
		if code, reason := c.ExpectClose(); code != protocol.ClosePurged || reason != "room purged" {
			t.Fatalf("closed with %d %q", code, reason)
		}
	}
	if _, err := s.Join(t, rm, "late", vtest.DialOptions{}); websocket.CloseStatus(err) != protocol.CloseNotFound {
		t.Fatalf("join after purge = %v", err)
	}
}

func TestExpiry(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{MinTTL: time.Second}})
	rm := s.CreateRoom(t, vtest.CreateOptions{TTL: time.Second})
	other := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	o1 := join(t, s, other, "o1")
	o2 := join(t, s, other, "o2")
	o1.Expect("hello")
	if code, _ := a.ExpectClose(); code != protocol.CloseExpired {
		t.Fatalf("expiry closed with %d, want %d", code, protocol.CloseExpired)
	}
	if _, err := s.Join(t, rm, "late", vtest.DialOptions{}); websocket.CloseStatus(err) != protocol.CloseNotFound {
		t.Fatalf("join after expiry = %v", err)
	}
	if err := o1.Say("unaffected"); err != nil {
		t.Fatal(err)
	}
	if e := o2.Expect("msg"); e.Text != "unaffected" {
		t.Fatalf("o2 got %+v", e)
	}
}

func TestBadInputClosesWithReason(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	other := s.CreateRoom(t, vtest.CreateOptions{})
	tests := []struct {
		name   string
		joined bool
		send   func(c *vtest.Client) error
		code   websocket.StatusCode
	}{
		{"text message", false, func(c *vtest.Client) error {
			return c.WS.Write(t.Context(), websocket.MessageText, []byte("hello"))
		}, protocol.CloseBadFrame},
		{"empty frame", false, func(c *vtest.Client) error { return c.WriteRaw(nil) }, protocol.CloseBadFrame},
		{"unknown type", false, func(c *vtest.Client) error { return c.WriteRaw([]byte{0x7f, 1, 2}) }, protocol.CloseBadFrame},
		{"short join", false, func(c *vtest.Client) error { return c.WriteRaw([]byte{protocol.TypeJoin, 1, 2}) }, protocol.CloseBadFrame},
		{"envelope before join", false, func(c *vtest.Client) error {
			c.ID, _ = e2ee.NewIdentity()
			return c.Say("x")
		}, protocol.CloseBadFrame},
		{"oversized frame", false, func(c *vtest.Client) error {
			return c.WriteRaw(make([]byte, protocol.MaxFrame+1))
		}, protocol.CloseTooLarge},
		{"second join", true, func(c *vtest.Client) error {
			return c.Write(protocol.Join{RID: c.Keys.RID, Join: c.Keys.Join})
		}, protocol.CloseBadFrame},
		{"envelope for another room", true, func(c *vtest.Client) error {
			o, _ := s.Join(t, other, "o", vtest.DialOptions{})
			c.Keys.RID = o.Keys.RID
			return c.Say("x")
		}, protocol.CloseBadEnvelope},
		{"envelope with another sender", true, func(c *vtest.Client) error {
			c.Welcome.Session++
			return c.Say("x")
		}, protocol.CloseBadEnvelope},
		{"garbage envelope", true, func(c *vtest.Client) error {
			return c.WriteRaw(append([]byte{protocol.TypeEnvelope}, bytes.Repeat([]byte{9}, 200)...))
		}, protocol.CloseBadFrame},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *vtest.Client
			if tc.joined {
				c = join(t, s, rm, "x")
			} else {
				ws, err := s.Dial(t.Context(), vtest.DialOptions{})
				if err != nil {
					t.Fatal(err)
				}
				c = &vtest.Client{WS: ws}
			}
			if err := tc.send(c); err != nil {
				t.Fatal(err)
			}
			code, reason := vtest.ReadUntilClose(t, c.WS)
			if code != tc.code || reason == "" {
				t.Fatalf("closed with %d %q, want %d and a reason", code, reason, tc.code)
			}
		})
	}
	// The room survived all of it.
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	a.Expect("hello")
	a.Say("fine")
	if e := b.Expect("msg"); e.Text != "fine" {
		t.Fatalf("b got %+v", e)
	}
}

func TestForeignOriginRefused(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	_, err := s.Dial(t.Context(), vtest.DialOptions{Header: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("dial with a foreign Origin = %v, want 403", err)
	}
	ws, err := s.Dial(t.Context(), vtest.DialOptions{Header: http.Header{"Origin": {s.URL}}})
	if err != nil {
		t.Fatalf("dial with our own Origin: %v", err)
	}
	ws.CloseNow()
}

func TestSlowReaderIsCut(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Relay: relayOpts(4)})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	slow := join(t, s, rm, "slow")
	a.Expect("hello")
	// slow never reads; a sends until the server gives up on slow.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	big := strings.Repeat("x", 60000)
	for i := 0; ; i++ {
		if ctx.Err() != nil || i > 5000 {
			t.Fatalf("slow reader still a member after %d messages", i)
		}
		if err := a.Say(big); err != nil {
			t.Fatal(err)
		}
		if s.Rooms.Get(a.Keys.RID).Members() == 1 {
			break
		}
	}
	if e := a.Expect("left"); e.From != slow.Welcome.Session || e.Reason != protocol.LeftTooSlow {
		t.Fatalf("a saw %+v", e)
	}
}

func TestShutdownSaysGoingAway(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	go s.Relay.Shutdown(context.Background())
	if code, reason := a.ExpectClose(); code != websocket.StatusGoingAway || reason != "server going away" {
		t.Fatalf("shutdown closed with %d %q", code, reason)
	}
}

// A peer whose network vanished (it answers no ping) is detached, and after
// the grace period the others are told it dropped.
func TestSilentPeerIsDropped(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{
		Limits: room.Limits{Grace: 300 * time.Millisecond},
		Relay:  relay.Options{PingInterval: 100 * time.Millisecond, WriteTimeout: 300 * time.Millisecond},
	})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	frozen := join(t, s, rm, "frozen") // never reads again, so never answers a ping
	if e := a.Expect("hello"); e.From != frozen.Welcome.Session {
		t.Fatalf("a saw %+v", e)
	}
	if e := a.Expect("left"); e.From != frozen.Welcome.Session || e.Reason != protocol.LeftDropped {
		t.Fatalf("a saw %+v", e)
	}
}

func TestConnectionLimits(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Relay: relay.Options{ConnsPerAddr: 2, MaxConns: 3}})
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.CloseNow()
		}
	}()
	for range 2 {
		ws, err := s.Dial(t.Context(), vtest.DialOptions{LocalIP: "127.0.0.2"})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, ws)
	}
	// A spoofed X-Forwarded-For from a client that is no trusted proxy
	// changes nothing.
	spoof := http.Header{"X-Forwarded-For": {"203.0.113.1"}}
	if _, err := s.Dial(t.Context(), vtest.DialOptions{LocalIP: "127.0.0.2", Header: spoof}); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("third socket from one address = %v, want 429", err)
	}
	ws, err := s.Dial(t.Context(), vtest.DialOptions{LocalIP: "127.0.0.3"})
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	open = append(open, ws)
	if _, err := s.Dial(t.Context(), vtest.DialOptions{LocalIP: "127.0.0.4"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("over the total = %v, want 503", err)
	}
	// Closing one frees its place.
	open[0].CloseNow()
	vtest.Poll(t, "the place to free up", func() bool {
		ws, err := s.Dial(t.Context(), vtest.DialOptions{LocalIP: "127.0.0.2"})
		if err == nil {
			open = append(open, ws)
		}
		return err == nil
	})
}
