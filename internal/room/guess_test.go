package room

import (
	"testing"
	"testing/synctest"
	"time"

	"veil/internal/protocol"
)

// The per-room limit on wrong join values, to the millisecond: 10 at once,
// then one every 6 s, never more than 10 saved up; and an honest joiner gets
// in once the limiter has refilled.
func TestGuessLimitRefills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewRegistry(Limits{})
		defer g.Close(protocol.ErrGoingAway)
		if _, err := g.Create(spec(time.Hour)); err != nil {
			t.Fatal(err)
		}
		guess := func(want *protocol.Reject, n int, when string) {
			t.Helper()
			for i := range n {
				if _, _, err := g.Join(protocol.RID{1}, [32]byte{7}, &sink{}); err != want {
					t.Fatalf("%s: wrong join %d of %d = %v, want %v", when, i+1, n, err, want)
				}
			}
		}
		guess(protocol.ErrWrongPassword, 10, "at once")
		guess(protocol.ErrTooMany, 50, "past the burst")
		// During the lockout the right value gets the same answer, so a
		// guesser cannot tell when it has found the password.
		if _, _, err := g.Join(protocol.RID{1}, join, &sink{}); err != protocol.ErrTooMany {
			t.Fatalf("the right join value during the lockout = %v, want ErrTooMany", err)
		}

		time.Sleep(6*time.Second - time.Millisecond)
		guess(protocol.ErrTooMany, 1, "just before a refill")
		time.Sleep(time.Millisecond)
		guess(protocol.ErrWrongPassword, 1, "at the refill")
		guess(protocol.ErrTooMany, 1, "after the refill")

		time.Sleep(10 * time.Minute)
		guess(protocol.ErrWrongPassword, 10, "after a long pause")
		guess(protocol.ErrTooMany, 1, "after a long pause, past the burst")

		time.Sleep(6 * time.Second)
		c := &sink{}
		if _, m, err := g.Join(protocol.RID{1}, join, c); err != nil || m == nil {
			t.Fatalf("the right join value once the limiter refilled = %v", err)
		}
		if frames, closed := c.state(); len(frames) != 1 || closed != nil {
			t.Fatalf("the honest joiner got %d frames, closed %v; want its WELCOME", len(frames), closed)
		}
	})
}
