package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"veil/internal/e2ee"
	"veil/internal/natstest"
	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/vtest"
	"veil/internal/web"
)

// The shape of both fan-out benchmarks: one room of fanoutMembers, member i
// on server i mod len(servers); message s is sent by member s mod
// fanoutMembers, written by writer s mod fanoutWriters (so, with three
// nodes, each writer speaks for the members of one node). No writer lets
// any receiver fall more than fanoutWindow messages behind, which keeps
// every socket's queue (256 frames) far from full: nobody is cut as too
// slow, so every message must reach every other member.
const (
	fanoutMembers = 30
	fanoutWriters = 3
	fanoutWindow  = 64
)

// fanoutCap bounds one run's load, n messages: past it the benchmark fails
// with what is missing.
func fanoutCap(n int) time.Duration { return 30*time.Second + time.Duration(n)*time.Millisecond }

// BenchmarkClusterRoomFanout measures one room whose 30 members sit 10 on
// each of three veil nodes (each a real relay on loopback with its own
// nats-server of a routed cluster), all over real WebSockets in this
// process: three writers send b.N pre-sealed group messages from rotating
// members, and every other member must receive each one; a loss, a
// duplicate or an altered frame fails it. It reports deliveries per second
// and the p99 latency from the write to the receipt at each receiver.
// Both are taken at saturation: the clients share the machine's cores with
// relays and NATS, and the window keeps about 64 x 29 deliveries in flight,
// so the latency is mostly queueing, a ceiling for a busy room rather than
// the latency of an idle one. Compare BenchmarkSingleNodeRoomFanout for
// the cost of the cluster.
//
// Target on the 2-core development machine (-benchtime 2000x): at least
// 100,000 deliveries/s and p99 under 40 ms.
func BenchmarkClusterRoomFanout(b *testing.B) {
	benchFanout(b, benchNodes(b, 3))
}

// BenchmarkSingleNodeRoomFanout is BenchmarkClusterRoomFanout with every
// member on one relay that shares nothing.
//
// Target on the same machine: at least 120,000 deliveries/s and p99 under
// 30 ms.
func BenchmarkSingleNodeRoomFanout(b *testing.B) {
	benchFanout(b, []*vtest.Server{benchServer(b, nil)})
}

// benchNodes is nodes for benchmarks: n veil nodes of one NATS cluster,
// their relays without per-session rate limits.
func benchNodes(b *testing.B, n int) []*vtest.Server {
	b.Helper()
	c := natstest.StartCluster(b, n)
	var out []*vtest.Server
	for i := range n {
		nc, err := nats.Connect(c.URLs()[i], nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.NoEcho())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		// A fresh cluster may take a raft election or two before JetStream
		// places a replicated bucket.
		ctx, cancel := context.WithTimeout(b.Context(), 60*time.Second)
		node, err := NewNode(ctx, nc, n, nil)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(node.Bus.Close)
		out = append(out, benchServer(b, node))
	}
	return out
}

// benchServer starts a real veil server on loopback, as vtest.NewServer
// does but without its copy of every socket byte and log line into buffers
// behind one mutex, which the benchmark would measure with the relay. Its
// relay has no per-session rate limits; shared nil makes it a server on its
// own.
func benchServer(b *testing.B, shared room.Shared) *vtest.Server {
	b.Helper()
	rooms := room.NewClusterRegistry(room.DefaultLimits, shared)
	rel := relay.NewServer(rooms, slog.New(slog.DiscardHandler), vtest.Unthrottled)
	hs := httptest.NewServer(web.Handler(web.Config{Rooms: rooms, Relay: rel, Keyer: rel.Keyer()}))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rel.Shutdown(ctx); err != nil {
			b.Errorf("relay shutdown: %v", err)
		}
		hs.Close()
	})
	return vtest.Attach(hs.URL)
}

// msgKey names a sealed message by what its clear header says.
type msgKey struct {
	sender uint32
	seq    uint64
}

// benchFanout runs the fan-out benchmark over servers, which must be
// unthrottled.
func benchFanout(b *testing.B, servers []*vtest.Server) {
	rm := servers[0].CreateRoom(b, vtest.CreateOptions{})
	clients := make([]*vtest.Client, fanoutMembers)
	for i := range clients {
		c, err := servers[i%len(servers)].Join(b, rm, fmt.Sprintf("m%d", i), vtest.DialOptions{})
		if err != nil {
			b.Fatalf("join m%d: %v", i, err)
		}
		clients[i] = c
	}
	// Every member knows every other before the clock starts.
	for _, c := range clients {
		for len(c.Members) < fanoutMembers-1 {
			c.Expect("hello")
		}
	}

	// Seal every message now, the text numbering it, so that client crypto
	// is not measured; receivers match a frame by its clear header and
	// check it is the very frame sealed.
	frames := make([][]byte, b.N)
	index := make(map[msgKey]int, b.N)
	want := make([]int64, fanoutMembers) // messages each member must receive
	for s := range frames {
		from := s % fanoutMembers
		f, err := clients[from].SealFrame(protocol.KindMsg, fmt.Sprintf("fanout %d", s))
		if err != nil {
			b.Fatal(err)
		}
		h, err := protocol.ParseHeader(f[1:])
		if err != nil {
			b.Fatal(err)
		}
		frames[s] = f
		index[msgKey{h.Sender, h.Seq}] = s
		for r := range want {
			if r != from {
				want[r]++
			}
		}
	}

	var (
		t0       = time.Now()
		sentAt   = make([]atomic.Int64, b.N) // since t0, stored just before the write
		got      [fanoutMembers]atomic.Int64
		issuedBy [fanoutMembers]atomic.Int64
		issued   atomic.Int64
		doneAt   [fanoutMembers]atomic.Int64 // since t0, when a receiver had all
		last     [fanoutMembers]int          // message last received, owned by the receiver
		lat      [fanoutMembers][]time.Duration

		failMu  sync.Mutex
		failure string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		if failure == "" {
			failure = fmt.Sprintf(format, args...)
		}
		failMu.Unlock()
	}
	failed := func() string {
		failMu.Lock()
		defer failMu.Unlock()
		return failure
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var receivers sync.WaitGroup
	for r, c := range clients {
		lat[r] = make([]time.Duration, 0, want[r])
		seen := make([]bool, b.N)
		receivers.Go(func() {
			var buf bytes.Buffer // reused: the clients' garbage is not the relay's
			for {
				_, rd, err := c.WS.Reader(ctx)
				if err == nil {
					buf.Reset()
					_, err = buf.ReadFrom(rd)
				}
				now := time.Since(t0)
				if err != nil {
					if ctx.Err() == nil {
						fail("%s: read after %d of %d messages: %v", c.Alias, got[r].Load(), want[r], err)
					}
					return
				}
				raw := buf.Bytes()
				if len(raw) == 0 || raw[0] != protocol.TypeEnvelope {
					f, err := protocol.Decode(raw)
					fail("%s: unexpected %T %+v, %v", c.Alias, f, f, err)
					return
				}
				h, err := protocol.ParseHeader(raw[1:])
				if err != nil {
					fail("%s: %v", c.Alias, err)
					return
				}
				if h.Kind == protocol.KindHello {
					continue // a hello told again; nothing lost
				}
				s, ok := index[msgKey{h.Sender, h.Seq}]
				switch {
				case !ok:
					fail("%s: unknown frame, header %+v", c.Alias, h)
					return
				case !bytes.Equal(raw, frames[s]):
					fail("%s: message %d altered on the way", c.Alias, s)
					return
				case seen[s]:
					fail("%s: message %d twice", c.Alias, s)
					return
				}
				seen[s] = true
				last[r] = s
				lat[r] = append(lat[r], now-time.Duration(sentAt[s].Load()))
				if got[r].Add(1) == want[r] {
					doneAt[r].Store(int64(now))
				}
			}
		})
	}

	// lagging reports whether some receiver is fanoutWindow or more
	// messages behind what was issued for it.
	lagging := func() bool {
		n := issued.Load()
		for r := range got {
			if n-issuedBy[r].Load()-got[r].Load() >= fanoutWindow {
				return true
			}
		}
		return false
	}
	runtime.GC() // not on the clock: the garbage of the setup
	deadline := time.Now().Add(fanoutCap(b.N))
	b.ResetTimer()
	start := time.Since(t0)
	var writers sync.WaitGroup
	for w := range fanoutWriters {
		writers.Go(func() {
			for s := w; s < b.N; s += fanoutWriters {
				for lagging() {
					if failed() != "" {
						return
					}
					if time.Now().After(deadline) {
						fail("writer %d stalled at message %d (window of %d)", w, s, fanoutWindow)
						return
					}
					time.Sleep(20 * time.Microsecond)
				}
				from := s % fanoutMembers
				issuedBy[from].Add(1)
				issued.Add(1)
				sentAt[s].Store(int64(time.Since(t0)))
				if err := clients[from].WriteRaw(frames[s]); err != nil {
					fail("%s: write message %d: %v", clients[from].Alias, s, err)
					return
				}
			}
		})
	}
	writers.Wait()
	complete := func() bool {
		for r := range got {
			if got[r].Load() < want[r] {
				return false
			}
		}
		return true
	}
	for !complete() && failed() == "" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	for _, c := range clients {
		c.WS.CloseNow()
	}
	receivers.Wait()
	if f := failed(); f != "" {
		b.Fatal(f)
	}
	var all []time.Duration
	var end time.Duration
	for r := range got {
		if n := got[r].Load(); n < want[r] {
			b.Fatalf("%s received %d of %d messages within %v: lost", clients[r].Alias, n, want[r], fanoutCap(b.N))
		}
		end = max(end, time.Duration(doneAt[r].Load()))
		all = append(all, lat[r]...)
	}
	// The numbers in the text match the headers: open each member's last
	// message (crypto after the clock, once per member).
	for r, c := range clients {
		if want[r] == 0 {
			continue
		}
		s := last[r]
		from := clients[s%fanoutMembers]
		_, data, err := e2ee.Open(frames[s][1:], c.Keys.Msg[:], c.Members[from.Welcome.Session].EdPub)
		var body struct {
			Body string `json:"body"`
		}
		if err == nil {
			err = json.Unmarshal(data, &body)
		}
		if err != nil || body.Body != fmt.Sprintf("fanout %d", s) {
			b.Fatalf("%s: message %d opens to %q, %v", c.Alias, s, body.Body, err)
		}
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/(end-start).Seconds(), "deliveries/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
