package relay_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"veil/internal/protocol"
	"veil/internal/room"
	"veil/internal/vtest"
)

// BenchmarkFanout100 measures one sender's 256-byte-bucket messages fanned
// out to 99 other members of one room, all over real loopback WebSockets in
// this process (the clients share the machine's two cores with the relay).
// It reports deliveries per second; the closed-loop window keeps every
// queue below its limit so nobody is cut as too slow.
//
// Target on the 2-core development machine: at least 200,000 deliveries/s
// here (issue 8's load generator measures the relay alone, against a
// minimal broadcast server, on a pinned core).
func BenchmarkFanout100(b *testing.B) {
	const members = 100
	s := vtest.NewServer(b, vtest.Options{Limits: room.Limits{MaxMembers: members, JoinRate: 1e6, JoinBurst: members}, Relay: vtest.Unthrottled})
	rm := s.CreateRoom(b, vtest.CreateOptions{})
	clients := make([]*vtest.Client, members)
	for i := range clients {
		c, err := s.Join(b, rm, "m", vtest.DialOptions{})
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	sender := clients[0]
	// Every member has seen every hello before the clock starts.
	for i, c := range clients {
		for range members - 1 - i {
			c.Expect("hello")
		}
	}
	var got [members]atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, c := range clients[1:] {
		wg.Go(func() {
			for {
				if _, _, err := c.WS.Read(ctx); err != nil {
					return
				}
				got[i+1].Add(1)
			}
		})
	}
	// One sealed message, sent b.N times: the relay reads only the header.
	if err := sender.Say("benchmark"); err != nil {
		b.Fatal(err)
	}
	lowest := func() int64 {
		m := got[1].Load()
		for i := 2; i < members; i++ {
			m = min(m, got[i].Load())
		}
		return m
	}
	deadline := time.Now().Add(30 * time.Second)
	for lowest() < 1 {
		if time.Now().After(deadline) {
			b.Fatal("first message never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	frame := lastFrame(b, sender)
	b.ResetTimer()
	start := time.Now()
	const window = 128
	for n := 0; n < b.N; n++ {
		for int64(n+1)-lowest() >= window {
			if time.Now().After(deadline.Add(time.Duration(b.N) * time.Millisecond)) {
				b.Fatal("receivers stalled")
			}
			time.Sleep(50 * time.Microsecond)
		}
		if err := sender.WriteRaw(frame); err != nil {
			b.Fatal(err)
		}
	}
	for lowest() < int64(b.N)+1 {
		if time.Now().After(deadline.Add(time.Duration(b.N) * time.Millisecond)) {
			b.Fatal("receivers stalled at the end")
		}
		time.Sleep(50 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)*(members-1)/elapsed.Seconds(), "deliveries/s")
	cancel()
	for _, c := range clients {
		c.WS.CloseNow()
	}
	wg.Wait()
}

// lastFrame seals one group message frame from c for reuse.
func lastFrame(b *testing.B, c *vtest.Client) []byte {
	b.Helper()
	f, err := c.SealFrame(protocol.KindMsg, "benchmark")
	if err != nil {
		b.Fatal(err)
	}
	return f
}
