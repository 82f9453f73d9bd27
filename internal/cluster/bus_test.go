package cluster

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"veil/internal/natstest"
	"veil/internal/protocol"
)

type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (in *inbox) add(from string, data []byte) {
	in.mu.Lock()
	in.msgs = append(in.msgs, from+":"+string(data))
	in.mu.Unlock()
}

func (in *inbox) get() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs)
}

func poll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Frames a node publishes for a room reach, in order, the other nodes
// subscribed to that room, through different NATS servers, and never the
// publisher itself or another room's subscribers.
func TestBusCarriesRoomFramesBetweenNodes(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	var buses []*Bus
	for i := range 3 {
		b, err := NewBus(connect(t, c.URLs()[i]), fmt.Sprintf("node%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		buses = append(buses, b)
	}
	room, other := protocol.RID{1}, protocol.RID{2}
	var in [3]inbox
	var elsewhere inbox
	for i, b := range buses {
		stop, err := b.Subscribe(room, in[i].add)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	stopOther, _ := buses[2].Subscribe(other, elsewhere.add)
	defer stopOther()
	// Subscriptions travel through the routes: wait until one message gets
	// through, then send the ordered run.
	poll(t, "a first frame across the cluster", 10*time.Second, func() bool {
		buses[0].Publish(room, []byte("ping"))
		return len(in[2].get()) > 0 && len(in[1].get()) > 0
	})
	for i := range 200 {
		if err := buses[0].Publish(room, fmt.Appendf(nil, "%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{1, 2} {
		poll(t, "all 200 frames", 10*time.Second, func() bool { return len(in[i].get()) >= 200 })
		var got []string
		for _, m := range in[i].get() {
			if m != "node0:ping" {
				got = append(got, m)
			}
		}
		for k, m := range got {
			if want := fmt.Sprintf("node0:%03d", k); m != want {
				t.Fatalf("node%d got frame %d = %q, want %q (out of order or from the wrong node)", i, k, m, want)
			}
		}
	}
	if n := len(in[0].get()); n != 0 {
		t.Fatalf("the publisher got %d of its own frames", n)
	}
	if n := len(elsewhere.get()); n != 0 {
		t.Fatalf("another room's subscriber got %d frames", n)
	}
}

// Every node hears every other's heartbeat; a node that stops is taken for
// dead by the others once, within DeadAfter and a beat or two.
func TestBusNoticesADeadNode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	var mu sync.Mutex
	deaths := map[string][]string{} // observer -> dead nodes
	var buses []*Bus
	for i := range 3 {
		me := fmt.Sprintf("node%d", i)
		b, err := NewBus(connect(t, c.URLs()[i]), me, func(dead string) {
			mu.Lock()
			deaths[me] = append(deaths[me], dead)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		buses = append(buses, b)
	}
	poll(t, "every node to hear the others", 10*time.Second, func() bool {
		return len(buses[0].Peers()) == 2 && len(buses[1].Peers()) == 2 && len(buses[2].Peers()) == 2
	})
	start := time.Now()
	buses[2].Close()
	poll(t, "the others to take node2 for dead", DeadAfter+5*time.Second, func() bool {
		return !buses[0].Alive("node2") && !buses[1].Alive("node2")
	})
	took := time.Since(start)
	// The report runs on its own goroutine: wait for it, then check it came
	// once, for node2 only.
	poll(t, "the death reports", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(deaths["node0"]) > 0 && len(deaths["node1"]) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for _, obs := range []string{"node0", "node1"} {
		if !slices.Equal(deaths[obs], []string{"node2"}) {
			t.Fatalf("%s saw deaths %v, want node2 once", obs, deaths[obs])
		}
	}
	if !buses[0].Alive("node1") || !buses[0].Alive("node0") {
		t.Fatal("a live node was taken for dead")
	}
	t.Logf("node2 taken for dead %v after it stopped", took.Round(10*time.Millisecond))
}
