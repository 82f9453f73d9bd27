package room

import (
	"crypto/sha256"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"veil/internal/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink is a Conn that records what the room hands it; the relay's real
// sockets are tested in package relay.
type sink struct {
	mu     sync.Mutex
	frames [][]byte
	closed *protocol.Reject
}

func (s *sink) Send(f []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, f)
	return true
}

func (s *sink) SendChunk(f []byte, _ uint32) { s.Send(f) }

func (s *sink) Close(r *protocol.Reject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil {
		s.closed = r
	}
}

func (s *sink) state() ([][]byte, *protocol.Reject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames, s.closed
}

var join = [32]byte{42}

func spec(ttl time.Duration) Spec {
	return Spec{RID: protocol.RID{1}, Verifier: sha256.Sum256(join[:]), TTL: ttl}
}

func TestExpiresAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewRegistry(Limits{MaxTTL: 2 * time.Hour})
		if _, err := g.Create(spec(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c := &sink{}
		if _, _, err := g.Join(protocol.RID{1}, join, c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour - time.Millisecond)
		synctest.Wait()
		if _, closed := c.state(); closed != nil || g.Len() != 1 {
			t.Fatalf("before the deadline: closed %v, %d rooms", closed, g.Len())
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if _, closed := c.state(); closed != protocol.ErrExpired || g.Len() != 0 {
			t.Fatalf("at the deadline: closed %v, %d rooms", closed, g.Len())
		}
		if _, _, err := g.Join(protocol.RID{1}, join, &sink{}); err != protocol.ErrNotFound {
			t.Fatalf("join after expiry = %v", err)
		}
	})
}

func TestTTLIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewRegistry(Limits{MaxTTL: time.Hour})
		r, err := g.Create(spec(48 * time.Hour))
		if err != nil || r.TTL() != time.Hour {
			t.Fatalf("Create(48h) = %v, %v; want a 1h room", r.TTL(), err)
		}
		if _, err := g.Create(Spec{RID: protocol.RID{2}, TTL: time.Second}); err != ErrTTL {
			t.Fatalf("Create(1s) = %v, want ErrTTL", err)
		}
		r.Purge(nil, nil)
	})
}

func TestDroppedSessionLeavesAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewRegistry(Limits{Grace: 15 * time.Second})
		g.Create(spec(time.Hour))
		a, b := &sink{}, &sink{}
		r, _, _ := g.Join(protocol.RID{1}, join, a)
		_, mb, _ := g.Join(protocol.RID{1}, join, b)
		r.Detach(mb, b)
		time.Sleep(15*time.Second - time.Millisecond)
		synctest.Wait()
		if r.Members() != 2 {
			t.Fatalf("%d members before the grace period ended, want 2", r.Members())
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		frames, _ := a.state()
		last, err := protocol.Decode(frames[len(frames)-1])
		if err != nil || last != (protocol.Left{Session: mb.Session(), Reason: protocol.LeftDropped}) {
			t.Fatalf("a's last frame = %+v, %v; want LEFT dropped", last, err)
		}
		r.Purge(nil, nil)
	})
}

// A write to a socket can fail while the peer's clean close is on its way:
// the write detaches the member, and the close that follows still means it
// left at once, not after the grace period.
func TestCleanCloseAfterFailedWriteLeavesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewRegistry(Limits{Grace: 15 * time.Second})
		g.Create(spec(time.Hour))
		a, b := &sink{}, &sink{}
		r, _, _ := g.Join(protocol.RID{1}, join, a)
		_, mb, _ := g.Join(protocol.RID{1}, join, b)
		r.Drop(mb, b, func() [][]byte { return nil })
		r.Disconnect(mb, b)
		synctest.Wait()
		if r.Members() != 1 {
			t.Fatalf("%d members after a clean close, want 1", r.Members())
		}
		frames, _ := a.state()
		last, err := protocol.Decode(frames[len(frames)-1])
		if err != nil || last != (protocol.Left{Session: mb.Session(), Reason: protocol.LeftClosed}) {
			t.Fatalf("a's last frame = %+v, %v; want LEFT closed", last, err)
		}
		// A close of a socket the member has since left behind changes nothing.
		c := &sink{}
		_, mc, _ := g.Join(protocol.RID{1}, join, c)
		r.Detach(mc, c)
		c2 := &sink{}
		if _, _, err := g.Resume(protocol.RID{1}, mc.token, c2); err != nil {
			t.Fatal(err)
		}
		r.Disconnect(mc, c)
		if r.Members() != 2 {
			t.Fatalf("%d members after an old socket closed, want 2", r.Members())
		}
		r.Purge(nil, nil)
	})
}

func TestRegistryCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewRegistry(Limits{MaxRooms: 1})
		r, _ := g.Create(spec(time.Hour))
		if _, err := g.Create(Spec{RID: protocol.RID{2}, TTL: time.Hour}); err != ErrCapacity {
			t.Fatalf("second room = %v, want ErrCapacity", err)
		}
		if _, err := g.Create(spec(time.Hour)); err != ErrExists {
			t.Fatalf("same rid = %v, want ErrExists", err)
		}
		r.Purge(nil, nil)
		if _, err := g.Create(Spec{RID: protocol.RID{2}, TTL: time.Hour}); err != nil {
			t.Fatalf("after a purge: %v", err)
		}
		g.Close(protocol.ErrGoingAway)
	})
}
