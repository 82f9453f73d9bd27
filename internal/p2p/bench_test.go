package p2p

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"veil/internal/protocol"
)

// BenchmarkDelivery: one member of a room of five peers on loopback says
// a message and waits until the four others have read it; ms/p50 and
// ms/p99 are that time. Target (docs/p2p.md): p99 under 50 ms.
func BenchmarkDelivery(b *testing.B) {
	_, _, ms := room(b, 5, time.Hour, protocol.PolicyAnyone)
	got := make(chan string, 64)
	for _, m := range ms[1:] {
		go func() {
			seen := 0
			for {
				evs := m.events()
				for _, e := range evs[seen:] {
					if e.Type == "msg" && e.From.Alias == ms[0].name {
						got <- e.Text
					}
				}
				seen = len(evs)
				select {
				case <-m.done:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()
	}
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		text := fmt.Sprintf("bench %d", i)
		start := time.Now()
		if err := ms[0].c.Say(b.Context(), text, 0); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < len(ms)-1; {
			select {
			case t := <-got:
				if t == text {
					n++
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("message %d not read by all within 10 s", i)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms/p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms/p99")
}

// BenchmarkJoin: a peer joins a room of three through the link's peer and
// is admitted once its members have answered. Target: under 2 s.
func BenchmarkJoin(b *testing.B) {
	l, _, ms := room(b, 3, time.Hour, protocol.PolicyAnyone)
	l.Peers = []peer.AddrInfo{ms[0].r.Addrs()}
	for b.Loop() {
		m := joinAs(b, l, Options{NoMDNS: true, Wait: 10 * time.Second}, "joiner")
		if m.r.Members() != 3 {
			b.Fatalf("the joiner found %d members, want 3", m.r.Members())
		}
		m.c.Close()
	}
}
