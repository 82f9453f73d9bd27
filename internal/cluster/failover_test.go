package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/client"
	"veil/internal/protocol"
	"veil/internal/room"
	"veil/internal/roomsuite"
	"veil/internal/vtest"
)

// shortGrace makes dropped sessions end sooner than the default 15 s.
func shortGrace() vtest.Options {
	l := room.DefaultLimits
	l.Grace = 3 * time.Second
	l.MinTTL = time.Second
	return vtest.Options{Limits: l, Relay: vtest.Unthrottled}
}

// numbered reads c's group messages from sender until one says last,
// and returns the numbers it read ("n<number>"), in order.
func numbered(t *testing.T, c *vtest.Client, sender uint32, last int) []int {
	t.Helper()
	var got []int
	for {
		e := c.Expect("msg")
		if e.From != sender {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(e.Text, "n"))
		if err != nil {
			t.Fatalf("%s read %q", c.Alias, e.Text)
		}
		got = append(got, i)
		if i == last {
			return got
		}
	}
}

// A node dies while a member on another node talks: the members on the
// surviving nodes miss nothing; a member of the dead node resumes through
// another node and reads on, with a gap at most and never a message twice;
// one that does not come back is seen to drop once the grace has passed.
func TestNodeDeathLosesNoRoom(t *testing.T) {
	n, _ := startNodes(t, 3, shortGrace())
	rm := n[0].S.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, n[0].S, rm, "a")
	b := join(t, n[1].S, rm, "b")
	c := join(t, n[2].S, rm, "c")
	d := join(t, n[2].S, rm, "d")
	all := []*vtest.Client{a, b, c, d}
	for _, x := range all {
		for _, y := range all {
			if x != y {
				roomsuite.Meets(t, x, y)
			}
		}
	}

	// a talks throughout: 200 messages, one every 10 ms.
	const total = 200
	var wg sync.WaitGroup
	sendErr := make(chan error, 1)
	wg.Go(func() {
		for i := 1; i <= total; i++ {
			if err := a.Say("n" + strconv.Itoa(i)); err != nil {
				sendErr <- err
				return
			}
			time.Sleep(10 * time.Millisecond) // the pace of a chat, not a wait for anything
		}
	})
	// Node 3 crashes once b has read 20: its sockets and its NATS link cut.
	gotB := numbered(t, b, a.Welcome.Session, 20)
	n[2].S.Kill()
	n[2].NC.Close()
	// c comes back through node 1, as through a balancer.
	vtest.Poll(t, "c resumes through node 1", func() bool { return n[0].S.Resume(t, c) == nil })
	gotB = append(gotB, numbered(t, b, a.Welcome.Session, total)...)
	gotC := numbered(t, c, a.Welcome.Session, total)
	wg.Wait()
	select {
	case err := <-sendErr:
		t.Fatal(err)
	default:
	}
	for i, v := range gotB {
		if v != i+1 {
			t.Fatalf("b, on a surviving node, read %v...: message %d is missing or out of order", gotB[:i+1], i+1)
		}
	}
	for i := 1; i < len(gotC); i++ {
		if gotC[i] <= gotC[i-1] {
			t.Fatalf("c read message %d after %d: a duplicate or a reordering", gotC[i], gotC[i-1])
		}
	}
	t.Logf("b read %d of %d; c, resumed on another node, read %d", len(gotB), total, len(gotC))

	// The resumed session is whole: it talks and is heard on both nodes.
	if err := c.Say("back"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*vtest.Client{a, b} {
		if e := o.Expect("msg"); e.Text != "back" || e.From != c.Welcome.Session {
			t.Fatalf("%s got %+v", o.Alias, e)
		}
	}
	// d never came back: once node 3 is taken for dead and the grace has
	// passed, everyone left sees d dropped, and c does not drop.
	for _, o := range []*vtest.Client{a, b, c} {
		e := o.Expect("left")
		if e.From != d.Welcome.Session || e.Reason != protocol.LeftDropped {
			t.Fatalf("%s saw %+v, want d dropped", o.Alias, e)
		}
	}
	if err := b.Say("still here"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*vtest.Client{a, c} {
		if e := o.Expect("msg"); e.Text != "still here" {
			t.Fatalf("%s got %+v", o.Alias, e)
		}
	}
}

// A room's deadline ends it on every node at once, and once: members
// everywhere are closed with 4008, and no node lets anyone back in.
func TestShortRoomExpiresEverywhere(t *testing.T) {
	n, _ := startNodes(t, 3, shortGrace())
	rm := n[0].S.CreateRoom(t, vtest.CreateOptions{TTL: 3 * time.Second})
	var cs []*vtest.Client
	for i, x := range n {
		cs = append(cs, join(t, x.S, rm, fmt.Sprint("m", i)))
	}
	for i, c := range cs {
		if code, reason := c.ExpectClose(); code != protocol.CloseExpired {
			t.Fatalf("member on node %d closed with %d %q", i+1, code, reason)
		}
	}
	for i, x := range n {
		if _, err := x.S.Join(t, rm, "late", vtest.DialOptions{}); err == nil {
			t.Fatalf("joined the expired room through node %d", i+1)
		} else if code, _ := vtest.CloseOf(err); code != protocol.CloseNotFound {
			t.Fatalf("join through node %d: %v", i+1, err)
		}
	}
	// The record goes too (its key's TTL is the deadline and a margin).
	rid := cs[0].Keys.RID
	vtest.Poll(t, "the room's record is gone", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, _, err := n[1].Node.Load(ctx, rid)
		return errors.Is(err, ErrNotFound)
	})
}

// A NATS server restarts under a room: the node connected to it moves to
// another server, and its members keep talking with the others.
func TestNATSServerRestartIsSurvived(t *testing.T) {
	n, nc := startNodes(t, 3, shortGrace())
	rm := n[0].S.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, n[0].S, rm, "a")
	b := join(t, n[1].S, rm, "b")
	roomsuite.Meets(t, a, b)
	roomsuite.Meets(t, b, a)
	nc.Restart(t, 1)
	nc.WaitReady(t)
	ea, eb := pump(t, a), pump(t, b)
	// Frames sent while the node's link moves may be lost (a gap); once
	// it has moved, every one arrives. Say until one gets through, then
	// the next must too.
	sayUntilHeard(t, b, ea, "b after the restart")
	sayUntilHeard(t, a, eb, "a after the restart")
	if err := b.Say("and again"); err != nil {
		t.Fatal(err)
	}
	if e := next(t, ea, "msg"); e.Text != "and again" {
		t.Fatalf("a got %+v", e)
	}
	// Joins through the node whose server restarted work too, and its
	// hello reaches the other node.
	c := join(t, n[1].S, rm, "c")
	roomsuite.Meets(t, c, a)
	if e := next(t, ea, "hello"); e.From != c.Welcome.Session {
		t.Fatalf("a got %+v, want c's hello", e)
	}
	// That node follows the room's record again: a lock made on the other
	// reaches its members.
	a.Write(protocol.Owner{Key: rm.Owner})
	if e := next(t, ea, "state"); e.Reason != protocol.StateOwner {
		t.Fatalf("a's STATE = %#x", e.Reason)
	}
	a.Write(protocol.Lock{Locked: true})
	if e := next(t, eb, "state"); e.Reason != protocol.StateLocked {
		t.Fatalf("b's STATE = %#x", e.Reason)
	}
}

// pump reads c's events on a goroutine of its own until the test ends, so
// that a test can wait for them with its own deadlines (a socket read that
// times out closes the socket).
func pump(t *testing.T, c *vtest.Client) <-chan vtest.Event {
	ch := make(chan vtest.Event, 1024)
	go func() {
		defer close(ch)
		for {
			e, err := c.Recv(t.Context())
			if err != nil {
				return
			}
			ch <- e
		}
	}()
	return ch
}

// next returns the next event of kind from ch, within 10 s.
func next(t *testing.T, ch <-chan vtest.Event, kind string) vtest.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("socket ended while waiting for %s", kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s within 10 s", kind)
		}
	}
}

// sayUntilHeard has from say text, numbered, every 200 ms until the
// events of its listener (to) show one, within 30 s.
func sayUntilHeard(t *testing.T, from *vtest.Client, to <-chan vtest.Event, text string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if err := from.Say(fmt.Sprintf("%s %d", text, i)); err != nil {
			t.Fatal(err)
		}
	wait:
		for {
			select {
			case e, ok := <-to:
				if !ok {
					t.Fatalf("listener's socket ended")
				}
				if e.Kind == "msg" && strings.HasPrefix(e.Text, text) {
					return
				}
			case <-tick.C:
				break wait
			case <-deadline:
				t.Fatalf("%q never heard within 30 s", text)
			}
		}
	}
}

// expectEvent reads c's events until one of typ (and, if text is not
// empty, with that text), within 15 s; a rejected envelope or a warning on
// the way fails the test.
func expectEvent(t *testing.T, c *client.Client, typ, text string) client.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("%s: the session ended waiting for %s", c.Alias(), typ)
			}
			t.Logf("%s: %s %q", c.Alias(), e.Type, e.Text)
			if e.Type == "reject" || e.Type == "warning" {
				// Nothing here is forged or replayed: a sender key sent
				// again after a resume is not a reason to warn.
				t.Fatalf("%s: %s %q", c.Alias(), e.Type, e.Text)
			}
			if e.Type == typ && (text == "" || e.Text == text) {
				return e
			}
		case <-deadline:
			t.Fatalf("%s: no %s %q within 15 s", c.Alias(), typ, text)
		}
	}
}

// The terminal client, told of the cluster's other nodes (--node), resumes
// through one of them when the link's server dies, and talks on.
func TestClientResumesThroughAnotherNode(t *testing.T) {
	n, _ := startNodes(t, 2, shortGrace())
	rm := n[0].S.CreateRoom(t, vtest.CreateOptions{})
	x, err := client.Dial(t.Context(), client.Config{Link: rm.Link, Alias: "x", Reconnect: true, Nodes: []string{n[1].S.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	// y's link names node 2.
	frag := rm.Link[strings.Index(rm.Link, "#"):]
	y, err := client.Dial(t.Context(), client.Config{Link: n[1].S.URL + "/" + frag, Alias: "y", Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	expectEvent(t, x, "join", "")
	// y may have joined before x's hello reached its node: it speaks once
	// it knows x (a sender key goes only to members one knows).
	vtest.Poll(t, "y knows x", func() bool { return len(y.Members()) == 1 })
	if err := y.Say(t.Context(), "before", 0); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, x, "msg", "before")

	n[0].S.Kill()
	n[0].NC.Close()
	killed := time.Now()
	expectEvent(t, x, "reconnecting", "")
	expectEvent(t, x, "reconnected", "")
	t.Logf("x resumed through node 2 %v after node 1 died", time.Since(killed).Round(time.Millisecond))
	if err := y.Say(t.Context(), "after", 0); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, x, "msg", "after")
	if err := x.Say(t.Context(), "x is back", 0); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, y, "msg", "x is back")
}

// A node that has lost NATS refuses to make a room with 503 and a sentence,
// not the cluster's error (which may name the room).
func TestCreateWithoutNATSIs503(t *testing.T) {
	n, _ := startNodes(t, 3, vtest.Options{})
	n[0].NC.Close()
	_, status, err := n[0].S.TryCreate(vtest.CreateOptions{})
	if status != http.StatusServiceUnavailable {
		t.Fatalf("create without NATS: status %d, %v", status, err)
	}
	if err == nil || strings.Contains(err.Error(), "nats") || strings.Contains(err.Error(), "veil_rooms") {
		t.Fatalf("create without NATS said %v", err)
	}
}

// A node shutting down tells its members, and anyone who reaches it while
// it drains, 1012: resume elsewhere (a single server says 1001, the room is
// gone). The room lives on, and a member resumes through another node.
func TestNodeShutdownSays1012(t *testing.T) {
	n, _ := startNodes(t, 2, shortGrace())
	rm := n[0].S.CreateRoom(t, vtest.CreateOptions{})
	a := join(t, n[0].S, rm, "a")
	b := join(t, n[1].S, rm, "b")
	roomsuite.Meets(t, a, b)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := n[0].S.Relay.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, reason := a.ExpectClose(); code != protocol.CloseRestart {
		t.Fatalf("member closed with %d %q", code, reason)
	}
	if _, err := n[0].S.Join(t, rm, "late", vtest.DialOptions{}); err == nil {
		t.Fatal("joined through a node that shut down")
	} else if code, _ := vtest.CloseOf(err); code != protocol.CloseRestart {
		t.Fatalf("a join while the node drains: %v", err)
	}
	if err := n[1].S.Resume(t, a); err != nil {
		t.Fatalf("resume on the other node: %v", err)
	}
	a.Say("moved")
	if e := b.Expect("msg"); e.Text != "moved" {
		t.Fatalf("b got %+v", e)
	}
}
