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

// latencies has a send n messages at 100 per second and returns how long
// each took to reach b's socket (b reads raw frames, so the figure is the
// relay's, not the clients' crypto).
func latencies(t testing.TB, a, b *vtest.Client, n int) []time.Duration {
	t.Helper()
	var sentAt sync.Map // seq -> time.Time
	var out []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second+time.Duration(n)*10*time.Millisecond)
		defer cancel()
		for len(out) < n {
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
	for range n {
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
	if len(out) != n {
		t.Fatalf("b received %d of %d honest messages", len(out), n)
	}
	slices.Sort(out)
	return out
}

// floodRoom sets up a, b and a flooder; flood starts the flooder, which
// writes one sealed frame again and again (bounded), and reports whether it
// was warned and how it was closed. cutAfter is the relay's CutAfter.
func floodRoom(t testing.TB, cutAfter int) (a, b *vtest.Client, flood func(stop <-chan struct{}) <-chan [2]any) {
	opts := relay.Options{MsgRate: 200, MsgBurst: 100, CutAfter: cutAfter}
	s := vtest.NewServer(t, vtest.Options{Relay: opts})
	rm := s.CreateRoom(t, vtest.CreateOptions{})
	a = join(t, s, rm, "a")
	b = join(t, s, rm, "b")
	f := join(t, s, rm, "flooder")
	a.Expect("hello")
	a.Expect("hello")
	b.Expect("hello")
	return a, b, func(stop <-chan struct{}) <-chan [2]any {
		res := make(chan [2]any, 1)
		spam, err := f.SealFrame(protocol.KindMsg, "spam")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if stop != nil {
				// However the writing ends, the flooder goes when told.
				defer func() { <-stop; f.WS.CloseNow() }()
			}
			for i := 0; i < 200000; i++ {
				select {
				case <-stop:
					return
				default:
				}
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
	a, b, flood := floodRoom(t, 100)
	res := flood(nil)
	latencies(t, a, b, 100) // fails unless all 100 honest messages arrive
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
// (500 messages at 100/s) without and with a flooder in their room that
// writes as fast as it can for the whole measurement: the relay is told
// never to cut it, so this is the worst case, a flooder only throttled.
// Target: the p99 with a flooder within twice the p99 without
// (p99-ratio <= 2).
func BenchmarkFloodLatency(b *testing.B) {
	for b.Loop() {
		a, r, flood := floodRoom(b, 1<<30)
		base := latencies(b, a, r, 500)
		stop := make(chan struct{})
		res := flood(stop)
		during := latencies(b, a, r, 500)
		close(stop)
		<-res
		b.ReportMetric(float64(p99(base).Microseconds())/1000, "p99-ms-alone")
		b.ReportMetric(float64(p99(during).Microseconds())/1000, "p99-ms-flooded")
		b.ReportMetric(float64(p99(during))/float64(p99(base)), "p99-ratio")
	}
}
