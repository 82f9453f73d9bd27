// Package roomsuite is one suite of room behaviour that runs against both
// registries: a single node with its rooms in memory, and nodes sharing
// rooms through NATS. Whatever a member can see of a room (joining,
// talking, direct messages, leaving, resuming, the owner's powers, purge,
// expiry, the room's limits) must be the same on one node as when the
// members sit on different nodes. It is test support: only _test files
// import it.
package roomsuite

import (
	"fmt"
	"testing"
	"time"

	"veil/internal/protocol"
	"veil/internal/room"
	"veil/internal/vtest"
)

// Nodes starts the servers a case runs on, each built with opt: one server
// (returned once) for the memory registry, or several nodes of one cluster.
// Member i of a case joins through server i modulo their number.
type Nodes func(t *testing.T, opt vtest.Options) []*vtest.Server

// Limits are those every case runs with: a short grace and lifetime floor
// so that drops and expiry show within seconds, and three members at most.
func Limits() room.Limits {
	l := room.DefaultLimits
	l.Grace = 3 * time.Second
	l.MinTTL = time.Second
	l.MaxMembers = 3
	return l
}

// Run runs every case against the servers nodes starts.
func Run(t *testing.T, nodes Nodes) {
	cases := []struct {
		name string
		f    func(t *testing.T, s []*vtest.Server)
	}{
		{"Talk", talk},
		{"LeaveAndDrop", leaveAndDrop},
		{"Resume", resume},
		{"Logout", logout},
		{"LockAndKick", lockAndKick},
		{"Report", report},
		{"PurgeByAnyone", purgeByAnyone},
		{"PurgeByOwnerOnly", purgeByOwnerOnly},
		{"Expiry", expiry},
		{"WrongPasswordAndFull", wrongPasswordAndFull},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f(t, nodes(t, vtest.Options{Limits: Limits(), Relay: vtest.Unthrottled}))
		})
	}
}

func on(s []*vtest.Server, i int) *vtest.Server { return s[i%len(s)] }

// members joins n members, member i through server i, and waits until each
// knows every other.
func members(t *testing.T, s []*vtest.Server, rm *vtest.Room, n int) []*vtest.Client {
	t.Helper()
	var cs []*vtest.Client
	for i := range n {
		c, err := on(s, i).Join(t, rm, fmt.Sprint("m", i), vtest.DialOptions{})
		if err != nil {
			t.Fatalf("member %d joins: %v", i, err)
		}
		cs = append(cs, c)
	}
	for _, x := range cs {
		for _, y := range cs {
			if x != y {
				Meets(t, x, y)
			}
		}
	}
	return cs
}

// Meets waits until c knows other: listed in its WELCOME, or announced by
// a hello since.
func Meets(t *testing.T, c, other *vtest.Client) {
	t.Helper()
	for {
		if _, ok := c.Members[other.Welcome.Session]; ok {
			return
		}
		c.Expect("hello")
	}
}

// refused checks that a join through every server closes with code.
func refused(t *testing.T, s []*vtest.Server, rm *vtest.Room, code int, what string) {
	t.Helper()
	for i, x := range s {
		_, err := x.Join(t, rm, "late", vtest.DialOptions{})
		if err == nil {
			t.Fatalf("%s: a join through server %d got in", what, i+1)
		}
		if got, _ := vtest.CloseOf(err); int(got) != code {
			t.Fatalf("%s: a join through server %d: %v, want close %d", what, i+1, err, code)
		}
	}
}

// Every member reads every other's group messages, and a direct message
// reaches its recipient alone.
func talk(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{Name: "suite"})
	cs := members(t, s, rm, 3)
	for _, sp := range cs {
		if err := sp.Say("from " + sp.Alias); err != nil {
			t.Fatal(err)
		}
		for _, o := range cs {
			if o == sp {
				continue
			}
			if e := o.Expect("msg"); e.Text != "from "+sp.Alias || e.From != sp.Welcome.Session {
				t.Fatalf("%s got %+v, want %s's message", o.Alias, e, sp.Alias)
			}
		}
	}
	if err := cs[0].DM(cs[2].Welcome.Session, "only for m2"); err != nil {
		t.Fatal(err)
	}
	if e := cs[2].Expect("dm"); e.Text != "only for m2" || e.From != cs[0].Welcome.Session {
		t.Fatalf("m2 got %+v", e)
	}
	cs[2].Say("next")
	if e := cs[1].Expect("msg"); e.Text != "next" {
		t.Fatalf("m1 got %+v (did the direct message leak to it?)", e)
	}
}

// A member who closes the socket leaves at once; one whose socket drops
// without a word is seen as dropped once the grace has passed.
func leaveAndDrop(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{})
	cs := members(t, s, rm, 3)
	cs[1].WS.Close(1000, "")
	for _, o := range []*vtest.Client{cs[0], cs[2]} {
		if e := o.Expect("left"); e.From != cs[1].Welcome.Session || e.Reason != protocol.LeftClosed {
			t.Fatalf("%s saw %+v, want m1 closed", o.Alias, e)
		}
	}
	cs[2].WS.CloseNow()
	if e := cs[0].Expect("left"); e.From != cs[2].Welcome.Session || e.Reason != protocol.LeftDropped {
		t.Fatalf("m0 saw %+v, want m2 dropped", e)
	}
}

// A dropped member resumes within the grace as the same session, reads
// what was said meanwhile, and nobody sees it leave.
func resume(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{})
	cs := members(t, s, rm, 2)
	cs[1].WS.CloseNow()
	vtest.Poll(t, "m1's server sees the drop", func() bool {
		r := on(s, 1).Rooms.Get(cs[1].Keys.RID)
		return r != nil && !r.Attached(cs[1].Welcome.Session)
	})
	// Said while m1 is away: held for it until it resumes.
	if err := cs[0].Say("while you were away"); err != nil {
		t.Fatal(err)
	}
	if err := on(s, 1).Resume(t, cs[1]); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if _, ok := cs[1].Members[cs[0].Welcome.Session]; !ok {
		t.Fatal("the WELCOME of the resume does not list m0")
	}
	if e := cs[1].Expect("msg"); e.Text != "while you were away" {
		t.Fatalf("m1 got %+v", e)
	}
	cs[1].Say("back")
	if e := cs[0].Expect("msg"); e.Text != "back" || e.From != cs[1].Welcome.Session {
		t.Fatalf("m0 got %+v (a LEFT for m1?)", e)
	}
}

// After LOGOUT the others see the member leave, and its token is void.
func logout(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{})
	cs := members(t, s, rm, 2)
	cs[1].Write(protocol.Logout{})
	if e := cs[0].Expect("left"); e.From != cs[1].Welcome.Session || e.Reason != protocol.LeftLoggedOut {
		t.Fatalf("m0 saw %+v", e)
	}
	for i := range s {
		err := s[i].Resume(t, cs[1])
		if code, _ := vtest.CloseOf(err); code != protocol.CloseSessionEnded {
			t.Fatalf("resume after logout through server %d: %v", i+1, err)
		}
	}
}

// The owner's lock refuses joins through every server until it unlocks,
// and the owner's kick removes a member wherever it is.
func lockAndKick(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{})
	cs := members(t, s, rm, 2)
	owner, other := cs[0], cs[1]
	owner.Write(protocol.Owner{Key: rm.Owner})
	if e := owner.Expect("state"); e.Reason != protocol.StateOwner {
		t.Fatalf("owner's STATE = %#x", e.Reason)
	}
	owner.Write(protocol.Lock{Locked: true})
	if e := other.Expect("state"); e.Reason != protocol.StateLocked {
		t.Fatalf("m1's STATE = %#x", e.Reason)
	}
	refused(t, s, rm, protocol.CloseLocked, "locked")
	owner.Write(protocol.Lock{Locked: false})
	if e := other.Expect("state"); e.Reason != 0 {
		t.Fatalf("m1's STATE after unlock = %#x", e.Reason)
	}
	third, err := on(s, 2).Join(t, rm, "third", vtest.DialOptions{})
	if err != nil {
		t.Fatalf("join after unlock: %v", err)
	}
	Meets(t, owner, third)
	owner.Write(protocol.Kick{Session: other.Welcome.Session})
	if code, reason := other.ExpectClose(); code != protocol.CloseRemoved {
		t.Fatalf("kicked member closed with %d %q", code, reason)
	}
	for _, o := range []*vtest.Client{owner, third} {
		if e := o.Expect("left"); e.From != other.Welcome.Session || e.Reason != protocol.LeftRemoved {
			t.Fatalf("%s saw %+v", o.Alias, e)
		}
	}
	if err := s[0].Resume(t, other); err == nil {
		t.Fatal("a kicked session resumed")
	}
}

// A report reaches the owner's session alone; with no owner, the sender is
// told.
func report(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{})
	cs := members(t, s, rm, 3)
	f, err := cs[1].SealFrame(protocol.KindReport, "sealed report")
	if err != nil {
		t.Fatal(err)
	}
	cs[1].WriteRaw(f)
	if e := cs[1].Expect("error"); e.Code != protocol.CodeNoOwner {
		t.Fatalf("report with no owner: %+v", e)
	}
	cs[0].Write(protocol.Owner{Key: rm.Owner})
	if e := cs[0].Expect("state"); e.Reason != protocol.StateOwner {
		t.Fatalf("owner's STATE = %#x", e.Reason)
	}
	if f, err = cs[1].SealFrame(protocol.KindReport, "sealed report"); err != nil {
		t.Fatal(err)
	}
	cs[1].WriteRaw(f)
	if e := cs[0].Expect("report"); e.From != cs[1].Welcome.Session {
		t.Fatalf("owner got %+v", e)
	}
	cs[2].Say("after the report")
	if e := cs[1].Expect("msg"); e.Text != "after the report" {
		t.Fatalf("m1 got %+v", e)
	}
}

// Under the "anyone" policy any member's purge closes everyone with 4009
// and the link is dead on every server.
func purgeByAnyone(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{})
	cs := members(t, s, rm, 3)
	cs[2].Write(protocol.Purge{})
	for _, c := range cs {
		if code, _ := c.ExpectClose(); code != protocol.ClosePurged {
			t.Fatalf("%s closed with %d", c.Alias, code)
		}
	}
	refused(t, s, rm, protocol.CloseNotFound, "purged")
}

// Under the "owner" policy a member's purge is refused; the owner key's
// goes through.
func purgeByOwnerOnly(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{Purge: "owner"})
	cs := members(t, s, rm, 2)
	cs[1].Write(protocol.Purge{})
	if e := cs[1].Expect("error"); e.Code != protocol.CodeNotAllowed {
		t.Fatalf("a member's purge: %+v", e)
	}
	key := rm.Owner
	cs[1].Write(protocol.Purge{Owner: &key})
	for _, c := range cs {
		if code, _ := c.ExpectClose(); code != protocol.ClosePurged {
			t.Fatalf("%s closed with %d", c.Alias, code)
		}
	}
	refused(t, s, rm, protocol.CloseNotFound, "purged")
}

// At its deadline the room ends for everyone with 4008, once.
func expiry(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{TTL: 2 * time.Second})
	cs := members(t, s, rm, 3)
	for _, c := range cs {
		if code, _ := c.ExpectClose(); code != protocol.CloseExpired {
			t.Fatalf("%s closed with %d", c.Alias, code)
		}
	}
	refused(t, s, rm, protocol.CloseNotFound, "expired")
}

// A wrong password is told apart on every server, and a full room refuses
// a fourth member wherever it knocks.
func wrongPasswordAndFull(t *testing.T, s []*vtest.Server) {
	rm := s[0].CreateRoom(t, vtest.CreateOptions{Password: "right"})
	wrong := *rm
	wrong.Password = "wrong"
	refused(t, s, &wrong, protocol.CloseWrongPassword, "wrong password")
	members(t, s, rm, 3)
	refused(t, s, rm, protocol.CloseRoomFull, "full")
}
