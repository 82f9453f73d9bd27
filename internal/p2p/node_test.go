package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

func start(t *testing.T, cfg Config) *Node {
	t.Helper()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	n, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func info(n *Node) peer.AddrInfo { return peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()} }

// ready has every host say a numbered probe every 200 ms until every host
// has heard a probe from every other: a message published as soon as a
// peer shows in the topic can be lost, before the mesh forms.
func ready(t *testing.T, topics []*pubsub.Topic, subs []*pubsub.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	heard := make([]map[string]bool, len(subs))
	done := make(chan int, len(subs))
	for i, sub := range subs {
		heard[i] = map[string]bool{}
		go func() {
			for len(heard[i]) < len(subs)-1 {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				var from, k int
				if _, err := fmt.Sscanf(string(m.Data), "probe %d %d", &from, &k); err == nil && from != i {
					heard[i][fmt.Sprint(from)] = true
				}
			}
			done <- i
		}()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for k, n := 0, 0; n < len(subs); k++ {
		for i, tp := range topics {
			tp.Publish(ctx, []byte(fmt.Sprintf("probe %d %d", i, k)))
		}
		select {
		case <-ctx.Done():
			t.Fatal("the hosts never all heard each other")
		case <-tick.C:
		}
		for len(done) > 0 {
			<-done
			n++
		}
	}
}

// receive reads sub until it has every one of want, within 20 s.
func receive(t *testing.T, who string, sub *pubsub.Subscription, want map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got := map[string]bool{}
	for len(got) < len(want) {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("%s has %d of %d messages: %v", who, len(got), len(want), err)
		}
		if want[string(m.Data)] {
			got[string(m.Data)] = true
		}
	}
}

// Five hosts on loopback, each knowing only the first, form one topic:
// every message reaches every host; one host dies and the rest go on; a
// late host that knows only one bootstrap peer finds the room through the
// DHT.
func TestRoomOverFiveHosts(t *testing.T) {
	first := start(t, Config{})
	nodes := []*Node{first}
	for range 4 {
		nodes = append(nodes, start(t, Config{Bootstrap: []peer.AddrInfo{info(first)}}))
	}
	ns := Rendezvous([]byte("room id"))
	var subs []*pubsub.Subscription
	var topics []*pubsub.Topic
	for _, n := range nodes {
		tp, err := n.PS.Join(ns)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := tp.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		topics, subs = append(topics, tp), append(subs, sub)
	}
	meshed := func(tps []*pubsub.Topic, n int) {
		deadline := time.Now().Add(20 * time.Second)
		for _, tp := range tps {
			for len(tp.ListPeers()) < n {
				if time.Now().After(deadline) {
					t.Fatalf("topic peers %d, want %d", len(tp.ListPeers()), n)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	// Every host knows the first's subscription, and the first everyone's.
	meshed(topics[1:], 1)
	meshed(topics[:1], 4)
	ready(t, topics, subs)
	send := func(tps []*pubsub.Topic, round string) map[string]bool {
		want := map[string]bool{}
		for i, tp := range tps {
			msg := fmt.Sprintf("%s from %d", round, i)
			want[msg] = true
			if err := tp.Publish(t.Context(), []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}
		return want
	}
	want := send(topics, "first")
	for i, sub := range subs {
		receive(t, fmt.Sprint("host ", i), sub, want)
	}

	// Host 2 dies; the others still reach each other.
	nodes[2].Close()
	alive := []int{0, 1, 3, 4}
	var tps []*pubsub.Topic
	for _, i := range alive {
		tps = append(tps, topics[i])
	}
	want = send(tps, "second")
	for _, i := range alive {
		receive(t, fmt.Sprint("host ", i), subs[i], want)
	}

	// A late host knows only host 4; it finds the others under the room's
	// rendezvous in the DHT, where they advertise.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, i := range alive {
		nodes[i].Advertise(ctx, ns)
		go nodes[i].Find(ctx, ns)
	}
	late := start(t, Config{Bootstrap: []peer.AddrInfo{info(nodes[4])}})
	ltp, err := late.PS.Join(ns)
	if err != nil {
		t.Fatal(err)
	}
	lsub, err := ltp.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for found := false; !found; {
		fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
		late.Advertise(fctx, ns)
		late.Find(fctx, ns)
		fcancel()
		for _, i := range alive[:3] { // not host 4, its bootstrap peer
			if len(late.Host.Network().ConnsToPeer(nodes[i].Host.ID())) > 0 {
				found = true
			}
		}
		if !found && time.Now().After(deadline) {
			t.Fatal("the late host found no member but its bootstrap peer through the DHT")
		}
	}
	meshed([]*pubsub.Topic{ltp}, 1)
	ready(t, append(tps, ltp), []*pubsub.Subscription{subs[0], subs[1], subs[3], subs[4], lsub})
	want = send([]*pubsub.Topic{topics[0]}, "third")
	receive(t, "the late host", lsub, want)
}
