package client

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
	"veil/internal/room"
	"veil/internal/vtest"
)

// The longest alias of the widest characters, with the ML-KEM capability,
// still makes a hello the relay takes and the others see.
func TestLongestAliasJoins(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a := dial(t, rm, "a")
	wide := strings.Repeat("\U0001F600", e2ee.MaxAlias)
	b := dial(t, rm, wide)
	if e := expect(t, a, "join", ""); e.From.Alias != wide {
		t.Fatalf("a saw %q join", e.From.Alias)
	}
	settle(t, a, b)
}

// A room of members with the largest hellos welcomes newcomers whole, though
// its WELCOME is larger than any other frame may be.
func TestWelcomeLargerThanAFrame(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{JoinRate: 1e6, JoinBurst: 1e6}})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	// Capabilities this client does not know pad a hello to the largest
	// bucket, as a member with a hostile client could.
	caps := make([]string, 20)
	for i := range caps {
		caps[i] = fmt.Sprintf("unknown-capability-%02d", i)
	}
	const n = 60
	for i := range n {
		c, err := s.Join(t, rm, fmt.Sprint("m", i), vtest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hello, err := e2ee.SealHello(c.Keys, c.Welcome.Session, 2, c.ID, c.Alias, caps, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(hello) != protocol.MaxHello {
			t.Fatalf("hello of %d bytes, want %d", len(hello), protocol.MaxHello)
		}
		if err := c.WriteRaw(append([]byte{protocol.TypeEnvelope}, hello...)); err != nil {
			t.Fatal(err)
		}
	}
	var size int
	vtest.Poll(t, "a WELCOME of every largest hello", func() bool {
		probe, err := s.Join(t, rm, "probe", vtest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer probe.WS.Close(websocket.StatusNormalClosure, "")
		size = len(protocol.Encode(probe.Welcome))
		largest := 0
		for _, m := range probe.Welcome.Members {
			if len(m.Hello) == protocol.MaxHello {
				largest++
			}
		}
		return largest == n
	})
	if size <= protocol.MaxFrame {
		t.Fatalf("WELCOME of %d bytes is within a frame: the room proves nothing", size)
	}
	late := dial(t, rm, "late")
	joined(t, late, n)
}
