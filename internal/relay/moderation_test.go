package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/vtest"
)

// claim makes c an owner session and waits for the relay to say so.
func claim(t *testing.T, c *vtest.Client, owner [32]byte) {
	t.Helper()
	if err := c.Write(protocol.Owner{Key: owner}); err != nil {
		t.Fatal(err)
	}
	if e := c.Expect("state"); e.Reason&protocol.StateOwner == 0 {
		t.Fatalf("STATE after a right owner key = %#x", e.Reason)
	}
}

func expectError(t *testing.T, c *vtest.Client, code uint16, reason string) {
	t.Helper()
	if e := c.Expect("error"); e.Code != code || e.Text != reason {
		t.Fatalf("got ERROR %d %q, want %d %q", e.Code, e.Text, code, reason)
	}
}

func TestOnlyTheOwnerKicksAndLocks(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, s, rm, "a")
	b := join(t, s, rm, "b")
	a.Expect("hello")
	b.Write(protocol.Kick{Session: a.Welcome.Session})
	expectError(t, b, protocol.CodeNotAllowed, "only the owner may do that")
	b.Write(protocol.Lock{Locked: true})
	expectError(t, b, protocol.CodeNotAllowed, "only the owner may do that")
	wrong := rm.Owner
	wrong[0] ^= 1
	b.Write(protocol.Owner{Key: wrong})
	expectError(t, b, protocol.CodeNotAllowed, "wrong owner key")
	// Nothing happened: a is still here and the room still admits joins.
	if s.Rooms.Get(a.Keys.RID).Members() != 2 || s.Rooms.Get(a.Keys.RID).Locked() {
		t.Fatal("a refused KICK or LOCK changed the room")
	}
	claim(t, a, rm.Owner)
	a.Write(protocol.Kick{Session: a.Welcome.Session})
	expectError(t, a, protocol.CodeNoMember, "no such member")
	a.Write(protocol.Kick{Session: 12345})
	expectError(t, a, protocol.CodeNoMember, "no such member")
}

func TestKickRemovesTheSessionForGood(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	owner := join(t, s, rm, "owner")
	bad := join(t, s, rm, "bad")
	other := join(t, s, rm, "other")
	owner.Expect("hello")
	claim(t, owner, rm.Owner)
	if err := owner.Write(protocol.Kick{Session: bad.Welcome.Session}); err != nil {
		t.Fatal(err)
	}
	if code, reason := bad.ExpectClose(); code != protocol.CloseRemoved || reason != "removed by the owner" {
		t.Fatalf("kicked socket closed with %d %q", code, reason)
	}
	for _, c := range []*vtest.Client{owner, other} {
		if e := c.Expect("left"); e.From != bad.Welcome.Session || e.Reason != protocol.LeftRemoved {
			t.Fatalf("saw %+v, want LEFT removed", e)
		}
	}
	// Its token is void.
	if err := s.Resume(t, bad); err == nil {
		t.Fatal("a kicked session resumed")
	} else if code, _ := vtest.CloseOf(err); code != protocol.CloseSessionEnded {
		t.Fatalf("resume after kick: %v", err)
	}
}

func TestLockRefusesJoinsButNotResumes(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	owner := join(t, s, rm, "owner")
	m := join(t, s, rm, "m")
	owner.Expect("hello")
	claim(t, owner, rm.Owner)
	owner.Write(protocol.Lock{Locked: true})
	if e := owner.Expect("state"); e.Reason != protocol.StateLocked|protocol.StateOwner {
		t.Fatalf("owner's STATE = %#x", e.Reason)
	}
	if e := m.Expect("state"); e.Reason != protocol.StateLocked {
		t.Fatalf("member's STATE = %#x", e.Reason)
	}
	if _, err := s.Join(t, rm, "late", vtest.DialOptions{}); err == nil {
		t.Fatal("joined a locked room")
	} else if code, reason := vtest.CloseOf(err); code != protocol.CloseLocked || reason != "room locked" {
		t.Fatalf("join of a locked room: %v", err)
	}
	// A member whose network blinked comes back, and learns the room is locked.
	m.WS.CloseNow()
	vtest.Poll(t, "the relay to notice the drop", func() bool { return !s.Rooms.Get(m.Keys.RID).Attached(m.Welcome.Session) })
	if err := s.Resume(t, m); err != nil {
		t.Fatalf("resume into a locked room: %v", err)
	}
	if e := m.Expect("state"); e.Reason != protocol.StateLocked {
		t.Fatalf("STATE after resume = %#x", e.Reason)
	}
	owner.Write(protocol.Lock{Locked: false})
	if e := m.Expect("state"); e.Reason != 0 {
		t.Fatalf("STATE after unlock = %#x", e.Reason)
	}
	join(t, s, rm, "late")
}

func TestReportsGoOnlyToOwners(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	owner := join(t, s, rm, "owner")
	reporter := join(t, s, rm, "reporter")
	bystander := join(t, s, rm, "bystander")
	owner.Expect("hello")
	owner.Expect("hello")
	reporter.Expect("hello")
	report, err := reporter.SealFrame(protocol.KindReport, "sealed to the report key")
	if err != nil {
		t.Fatal(err)
	}
	reporter.WriteRaw(report)
	expectError(t, reporter, protocol.CodeNoOwner, "the owner is not in the room")
	claim(t, owner, rm.Owner)
	reporter.WriteRaw(report)
	if e := owner.Expect("report"); e.From != reporter.Welcome.Session {
		t.Fatalf("owner got %+v", e)
	}
	// The bystander gets the next message and nothing before it.
	reporter.Say("after the report")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if e, err := bystander.Recv(ctx); err != nil || e.Kind != "msg" || e.Text != "after the report" {
		t.Fatalf("bystander's next event = %+v, %v; want the message, and no report before it", e, err)
	}
}

func TestOwnerPurgesWithoutResendingTheKey(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{Purge: "owner"})
	owner := join(t, s, rm, "owner")
	claim(t, owner, rm.Owner)
	owner.Write(protocol.Purge{})
	if code, _ := owner.ExpectClose(); code != protocol.ClosePurged {
		t.Fatalf("purge by the owner session closed with %d", code)
	}
}

func TestIdleSessionsAreClosed(t *testing.T) {
	o := vtest.Unthrottled
	o.Idle, o.PingInterval = time.Second, 100*time.Millisecond
	s := vtest.NewServer(t, vtest.Options{Relay: o})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	present := join(t, s, rm, "present")
	gone := join(t, s, rm, "gone")
	present.Expect("hello")
	// gone reads (so it answers pings) but sends nothing after its hello;
	// present shows it is there.
	type closed struct {
		code   websocket.StatusCode
		reason string
	}
	goneClosed := make(chan closed, 1)
	go func() {
		code, reason := gone.ExpectClose()
		goneClosed <- closed{code, reason}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for s.Rooms.Get(rm0(present)).Attached(gone.Welcome.Session) {
		if time.Now().After(deadline) {
			t.Fatal("an idle session was not closed within 10s")
		}
		present.Write(protocol.Active{})
		time.Sleep(100 * time.Millisecond)
	}
	if c := <-goneClosed; c.code != protocol.CloseIdle || c.reason != "idle for too long" {
		t.Fatalf("idle socket closed with %d %q", c.code, c.reason)
	}
	if e := present.Expect("left"); e.From != gone.Welcome.Session || e.Reason != protocol.LeftIdle {
		t.Fatalf("present saw %+v", e)
	}
	if !s.Rooms.Get(rm0(present)).Attached(present.Welcome.Session) {
		t.Fatal("the active session was closed as idle")
	}
}

func rm0(c *vtest.Client) protocol.RID { return c.Keys.RID }

func TestJoinRateLimitsRaids(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{JoinRate: 1, JoinBurst: 3}, Relay: relay.Options{}})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	for i := range 3 {
		join(t, s, rm, "m"+string(rune('a'+i)))
	}
	_, err := s.Join(t, rm, "raider", vtest.DialOptions{})
	if code, reason := vtest.CloseOf(err); code != protocol.CloseTooMany || reason != "too many joins; try again in a minute" {
		t.Fatalf("join past the room's rate: %v", err)
	}
}
