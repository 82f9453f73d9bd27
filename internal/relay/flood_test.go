package relay_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/vtest"
)

// latencies has a send 100 messages at 100 per second and returns how long
// each took to reach b's socket (b reads raw frames, so the figure is the
// relay's, not the clients' crypto).
func latencies(t testing.TB, a, b *vtest.Client) []time.Duration {
	t.Helper()
	var sentAt sync.Map // seq -> time.Time
	var out []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		for len(out) < 100 {
			f, err := b.Next(ctx)
			if err != nil {
				return
			}
			env, ok := f.(protocol.Envelope)
			if !ok || env.Header.Sender != a.Welcome.Session || env.Header.Kind != protocol.KindMsg {
				continue
			}
			if at, ok := sentAt.Load(env.Header.Seq); ok {
				out = append(out, time.Since(at.(time.Time)))
			}
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range 100 {
		<-tick.C
		frame, err := a.SealFrame(protocol.KindMsg, "honest")
		if err != nil {
			t.Fatal(err)
		}
		h, _ := protocol.ParseHeader(frame[1:])
		sentAt.Store(h.Seq, time.Now())
		if err := a.WriteRaw(frame); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if len(out) != 100 {
		t.Fatalf("b received %d of 100 honest messages", len(out))
	}
	slices.Sort(out)
	return out
}

// floodRoom sets up a, b and a flooder; flood starts the flooder, which
// writes one sealed frame again and again (bounded), and reports whether it
// was warned and how it was closed.
func floodRoom(t testing.TB) (a, b *vtest.Client, flood func() <-chan [2]any) {
	opts := relay.Options{MsgRate: 200, MsgBurst: 100, CutAfter: 100}
	s := vtest.NewServer(t, vtest.Options{Relay: opts})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a = join(t, s, rm, "a")
	b = join(t, s, rm, "b")
	f := join(t, s, rm, "flooder")
	a.Expect("hello")
	a.Expect("hello")
	b.Expect("hello")
	return a, b, func() <-chan [2]any {
		res := make(chan [2]any, 1)
		spam, err := f.SealFrame(protocol.KindMsg, "spam")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for i := 0; i < 20000; i++ {
				if f.WriteRaw(spam) != nil {
					return
				}
			}
		}()
		go func() {
			var warned bool
			for {
				fr, err := f.Next(context.Background())
				if err != nil {
					code, reason := vtest.CloseOf(err)
					res <- [2]any{warned, strconv.Itoa(code) + " " + reason}
					return
				}
				if e, ok := fr.(protocol.Error); ok && e.Code == protocol.CloseTooMany {
					warned = true
				}
			}
		}()
		return res
	}
}

// A flooder is told to slow down, then cut, while every honest message
// still arrives.
func TestFlooderIsThrottledThenCut(t *testing.T) {
	a, b, flood := floodRoom(t)
	res := flood()
	latencies(t, a, b) // fails unless all 100 honest messages arrive
	select {
	case r := <-res:
		if r[0] != true || r[1] != "4029 too many messages" {
			t.Fatalf("flooder: warned %v, closed with %v", r[0], r[1])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the flooder was never cut")
	}
}

func p99(d []time.Duration) time.Duration { return d[len(d)*99/100] }

// BenchmarkFloodLatency reports the honest members' p99 delivery latency
// without and with a flooder in their room (100 messages at 100/s each
// way). Target: the p99 with a flooder within twice the p99 without.
func BenchmarkFloodLatency(b *testing.B) {
	for b.Loop() {
		a, r, flood := floodRoom(b)
		base := latencies(b, a, r)
		res := flood()
		during := latencies(b, a, r)
		<-res
		b.ReportMetric(float64(p99(base).Microseconds())/1000, "p99-ms-alone")
		b.ReportMetric(float64(p99(during).Microseconds())/1000, "p99-ms-flooded")
	}
}
