package baseline_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/bench/baseline"
	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/vtest"
	"veil/internal/web"
)

// fanoutMembers is the room size of the fan-out benchmarks.
const fanoutMembers = 100

// sealedLen is the length of a sealed group message frame in the 256-byte
// bucket: type, header, nonce, padded plaintext, tag, signature. The
// baseline's frames have the same length, so both relays move the same
// bytes.
const sealedLen = 1 + protocol.HeaderLen + protocol.NonceLen + 256 + protocol.TagLen + protocol.SigLen

// fanoutShapes are the runs of both fan-out benchmarks: issue 8's
// max-fanout (10 closed-loop senders, 8 frames in flight each) and the
// shape of internal/relay's BenchmarkFanout100 (one sender, 128 in flight).
var fanoutShapes = []struct{ senders, window int }{{10, 8}, {1, 128}}

// BenchmarkBaselineFanout100 measures the baseline relay fanning out
// group-message-sized frames in a room of 100 over loopback WebSockets in
// this process, reporting deliveries per second.
func BenchmarkBaselineFanout100(b *testing.B) {
	for _, sh := range fanoutShapes {
		b.Run(fmt.Sprintf("senders=%d", sh.senders), func(b *testing.B) {
			srv := httptest.NewServer(baseline.Handler())
			defer srv.Close()
			socks := make([]*websocket.Conn, fanoutMembers)
			frames := make([][]byte, sh.senders)
			for i := range socks {
				c := join(b, srv, protocol.RID{'f'})
				socks[i] = c.ws
				if i < sh.senders {
					frames[i] = envelope(protocol.KindMsg, c.welcome.Session, strings.Repeat("x", sealedLen-1-protocol.HeaderLen))
				}
			}
			fanout(b, socks, frames, sh.window)
		})
	}
}

// BenchmarkVeilFanout100 is BenchmarkBaselineFanout100 against veil's
// relay (rate and join limits lifted), with real members and sealed
// messages. It serves web.Handler itself rather than through
// vtest.NewServer, whose wire recorder would copy every byte into one
// growing buffer and be measured too.
func BenchmarkVeilFanout100(b *testing.B) {
	for _, sh := range fanoutShapes {
		b.Run(fmt.Sprintf("senders=%d", sh.senders), func(b *testing.B) {
			rooms := room.NewRegistry(room.Limits{MaxMembers: fanoutMembers, JoinRate: 1e6, JoinBurst: fanoutMembers})
			rel := relay.NewServer(rooms, slog.New(slog.DiscardHandler), vtest.Unthrottled)
			srv := httptest.NewServer(web.Handler(web.Config{Rooms: rooms, Relay: rel, Keyer: rel.Keyer()}))
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := rel.Shutdown(ctx); err != nil {
					b.Errorf("relay shutdown: %v", err)
				}
				srv.Close()
			}()
			s := vtest.Attach(srv.URL)
			rm := s.CreateRoom(b, vtest.CreateOptions{})
			socks := make([]*websocket.Conn, fanoutMembers)
			frames := make([][]byte, sh.senders)
			for i := range socks {
				c, err := s.Join(b, rm, "m", vtest.DialOptions{})
				if err != nil {
					b.Fatal(err)
				}
				socks[i] = c.WS
				if i < sh.senders {
					if frames[i], err = c.SealFrame(protocol.KindMsg, "benchmark"); err != nil {
						b.Fatal(err)
					}
					if len(frames[i]) != sealedLen {
						b.Fatalf("sealed frame of %d bytes, want %d", len(frames[i]), sealedLen)
					}
				}
			}
			fanout(b, socks, frames, sh.window)
		})
	}
}

// fanout has socks[i] send frames[i] (for every i below len(frames)) b.N
// times in all, closed-loop: a sender waits while window of its frames
// have not reached every other member. It counts only group messages, so
// hellos and other frames do not disturb it, and it closes socks.
func fanout(b *testing.B, socks []*websocket.Conn, frames [][]byte, window int) {
	b.Helper()
	senders := len(frames)
	sessions := make([]uint32, senders)
	for i, f := range frames {
		sessions[i] = binary.BigEndian.Uint32(f[1+20:])
	}
	got := make([][]atomic.Int64, len(socks)) // got[receiver][sender]
	for r := range got {
		got[r] = make([]atomic.Int64, senders)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, ws := range socks {
			ws.CloseNow()
		}
		wg.Wait()
	}()
	for r, ws := range socks {
		wg.Go(func() {
			for {
				_, f, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if len(f) < 1+24 || f[0] != protocol.TypeEnvelope || f[3] != protocol.KindMsg {
					continue
				}
				from := binary.BigEndian.Uint32(f[1+20:])
				for s, id := range sessions {
					if id == from {
						got[r][s].Add(1)
					}
				}
			}
		})
	}
	lowest := func(s int) int64 {
		m := int64(1) << 62
		for r := range socks {
			if r != s {
				m = min(m, got[r][s].Load())
			}
		}
		return m
	}
	deadline := time.Now().Add(30*time.Second + time.Duration(b.N)*time.Millisecond)
	// waitFor waits until every other member has n frames of sender s.
	waitFor := func(s int, n int64) error {
		for lowest(s) < n {
			if time.Now().After(deadline) {
				return fmt.Errorf("sender %d: receivers stalled at %d of %d", s, lowest(s), n)
			}
			time.Sleep(50 * time.Microsecond)
		}
		return nil
	}
	send := func(s int) error {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		return socks[s].Write(wctx, websocket.MessageBinary, frames[s])
	}
	// One frame from each sender reaches everyone before the clock starts.
	for s := range frames {
		if err := send(s); err != nil {
			b.Fatal(err)
		}
		if err := waitFor(s, 1); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	start := time.Now()
	errs := make(chan error, senders)
	var sg sync.WaitGroup
	for s := range frames {
		n := int64(b.N / senders)
		if s < b.N%senders {
			n++
		}
		sg.Go(func() {
			for k := int64(1); k <= n; k++ {
				// k+1 frames with the one before the clock; at most
				// window of them unread after this one.
				if k+1-lowest(s) > int64(window) {
					if err := waitFor(s, k+1-int64(window)); err != nil {
						errs <- err
						return
					}
				}
				if err := send(s); err != nil {
					errs <- err
					return
				}
			}
			errs <- waitFor(s, n+1)
		})
	}
	sg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	for range frames {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(socks)-1)/elapsed.Seconds(), "deliveries/s")
}
