package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"veil/internal/natstest"
	"veil/internal/protocol"
	"veil/internal/room"
)

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.NoEcho())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func open(t *testing.T, url string, replicas int) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, connect(t, url), replicas)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Rooms created through one node are seen, updated and deleted through the
// others; a room id is taken once cluster-wide; concurrent updates all land.
func TestRoomRecordsAcrossNodes(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	a, b := open(t, c.URLs()[0], 3), open(t, c.URLs()[2], 3)
	rid := protocol.RID{1, 2, 3}
	rec := Record{Verifier: [32]byte{9}, Deadline: time.Now().Add(time.Hour), Policy: protocol.PolicyOwner, Meta: []byte("sealed")}
	if err := a.Create(ctxT(t), rid, rec); err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctxT(t), rid, rec); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create of the same id = %v, want ErrExists", err)
	}
	got, _, err := b.Load(ctxT(t), rid)
	if err != nil || got.Verifier != rec.Verifier || got.Policy != rec.Policy || string(got.Meta) != "sealed" || !got.Deadline.Equal(rec.Deadline) {
		t.Fatalf("Load on another node = %+v, %v", got, err)
	}
	// Members join through both nodes at once: every one of them lands.
	var wg sync.WaitGroup
	for i := range 20 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if _, err := s.Update(ctxT(t), rid, func(r *Record) error {
				r.Members = append(r.Members, room.SharedMember{Session: uint32(i + 1), Node: "n"})
				return nil
			}); err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, _, _ = a.Load(ctxT(t), rid)
	if len(got.Members) != 20 {
		t.Fatalf("%d members after 20 concurrent joins", len(got.Members))
	}
	stop := errors.New("stop")
	if _, err := a.Update(ctxT(t), rid, func(*Record) error { return stop }); err != stop {
		t.Fatalf("Update returns f's error: %v", err)
	}
	if err := b.Delete(ctxT(t), rid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Load(ctxT(t), rid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after Delete = %v, want ErrNotFound", err)
	}
	if _, err := a.Update(ctxT(t), rid, func(*Record) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update after Delete = %v, want ErrNotFound", err)
	}
}

// A room's key lives until a little after its deadline, updates included,
// and then it is gone on every node. Nothing of it reaches a disk.
func TestRoomRecordsExpireAndStayOffDisk(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	s := open(t, c.URL(), 3)
	rid := protocol.RID{7}
	marker := "veil-marker-" + strings.Repeat("z", 8)
	rec := Record{Deadline: time.Now().Add(-4 * time.Second), Meta: []byte(marker)} // its key lives about 1 s
	if err := s.Create(ctxT(t), rid, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctxT(t), rid, func(r *Record) error { r.Locked = true; return nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, _, err := s.Load(ctxT(t), rid)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room's key outlived its TTL after an update: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range c.Len() {
		filepath.WalkDir(c.StoreDir(i), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), marker) || strings.Contains(string(b), key(rid)) {
				t.Errorf("%s holds room data", p)
			}
			return nil
		})
	}
}

// A crowd joining one room through three nodes at once all lands, each
// change once, while a change that fails or changes nothing leaves the
// record as it was.
func TestCrowdUpdatesOneRecord(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	var stores []*Store
	for _, u := range c.URLs() {
		stores = append(stores, open(t, u, 3))
	}
	rid := protocol.RID{4, 5, 6}
	if err := stores[0].Create(ctxT(t), rid, Record{Verifier: [32]byte{1}, Deadline: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const crowd = 150
	refused := errors.New("refused")
	var wg sync.WaitGroup
	for i := range crowd {
		wg.Go(func() {
			_, err := stores[i%3].Update(ctxT(t), rid, func(r *Record) error {
				switch i % 10 {
				case 7:
					r.Members = append(r.Members, room.SharedMember{Session: 100_000 + uint32(i)})
					return refused // changed, then failed: none of it lands
				case 8:
					return room.ErrUnchanged
				}
				r.Members = append(r.Members, room.SharedMember{Session: uint32(i + 1), Node: "n"})
				return nil
			})
			if want := error(nil); i%10 == 7 {
				want = refused
				if err != want {
					t.Errorf("update %d: %v, want %v", i, err, want)
				}
			} else if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, _, err := stores[1].Load(ctxT(t), rid)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for _, m := range got.Members {
		if seen[m.Session] || m.Session > 100_000 {
			t.Errorf("member %d in the record twice or from a failed change", m.Session)
		}
		seen[m.Session] = true
	}
	if len(seen) != crowd*8/10 {
		t.Fatalf("%d members after %d joins", len(seen), crowd*8/10)
	}
}

// Nodes that start together all read the rooms: none binds the bucket while
// another has it briefly answering reads from any replica, which would
// leave that node asking a responder that is gone.
func TestNodesStartingTogetherAllRead(t *testing.T) {
	for round := range 20 {
		c := natstest.StartServer(t)
		const nodes = 12
		stores := make([]*Store, nodes)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Go(func() { stores[i] = open(t, c.URLs()[0], 1) })
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		rid := protocol.RID{byte(round)}
		if err := stores[0].Create(ctxT(t), rid, Record{Deadline: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for i, s := range stores {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			if _, _, err := s.Load(ctx, rid); err != nil {
				t.Errorf("round %d: node %d cannot read a room: %v", round, i, err)
			}
			cancel()
		}
	}
}
