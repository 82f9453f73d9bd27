package relay_test

import (
	"context"
	"testing"

	"github.com/coder/websocket"

	"veil/internal/room"
	"veil/internal/vtest"
)

// A member that closes its socket while frames are pouring in still gets
// the relay's answer to its close frame, so its client's close returns
// cleanly instead of with EOF: the answer is not lost among frames the
// relay was gathering for one write.
func TestCloseIsAnsweredDuringTraffic(t *testing.T) {
	s := vtest.NewServer(t, vtest.Options{Limits: room.Limits{JoinRate: 1e6, JoinBurst: 1e6}, Relay: vtest.Unthrottled})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	talker := join(t, s, rm, "talker")
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go func() {
		for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
			if talker.Say("a line among many") != nil {
				return
			}
		}
	}()
	for i := range 100 {
		c := join(t, s, rm, "leaver")
		for range 20 {
			c.Expect("msg")
		}
		if err := c.WS.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
	}
}
