package relay_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/protocol"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/vtest"
	"veil/internal/web"
)

// quietServer is vtest.NewServer without its wire recorder, which keeps
// every byte of every socket and so would hide what the relay frees.
func quietServer(t *testing.T, l room.Limits, o relay.Options) *vtest.Server {
	t.Helper()
	rooms := room.NewRegistry(l)
	rs := relay.NewServer(rooms, slog.New(slog.DiscardHandler), o)
	srv := httptest.NewServer(web.Handler(web.Config{Rooms: rooms, Relay: rs}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.Shutdown(ctx); err != nil {
			t.Errorf("relay shutdown: %v", err)
		}
		srv.Close()
	})
	return &vtest.Server{URL: srv.URL, Rooms: rooms, Relay: rs, HTTP: srv}
}

// heapInuse returns the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's finalizers let go
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Clients that stop reading are cut within their write deadline, and once
// everyone has gone the process is back where it was: goroutines, and heap
// (the frames queued or held for them freed).
func TestSlowReadersAreCutAndForgotten(t *testing.T) {
	const (
		writeTimeout = 500 * time.Millisecond
		grace        = time.Second
		heapSlack    = 8 << 20
		goSlack      = 3
	)
	for _, n := range []int{1, 20} {
		t.Run(fmt.Sprintf("%d-readers", n), func(t *testing.T) {
			o := vtest.Unthrottled
			// A queue short enough to fill at once, long enough for the
			// burst of LEFT frames the sender gets when all are cut.
			o.QueueLen, o.WriteTimeout = 32, writeTimeout
			s := quietServer(t, room.Limits{Grace: grace}, o)
			rm := s.CreateRoom(t, vtest.CreateOptions{})
			baseG, baseHeap := runtime.NumGoroutine(), heapInuse()

			a := join(t, s, rm, "sender")
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// The sender reads what it gets, so that only the others fall
			// behind, and notes why each left.
			var mu sync.Mutex
			reasons := map[byte]int{}
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				for {
					_, b, err := a.WS.Read(ctx)
					if err != nil {
						return
					}
					f, _ := protocol.Decode(b)
					if l, ok := f.(protocol.Left); ok {
						mu.Lock()
						reasons[l.Reason]++
						mu.Unlock()
					}
				}
			}()
			var slow []*vtest.Client
			for i := range n {
				slow = append(slow, join(t, s, rm, fmt.Sprintf("slow-%d", i)))
			}
			r := s.Rooms.Get(a.Keys.RID)
			vtest.Poll(t, "everyone in the room", func() bool { return r.Members() == n+1 })

			// The slow ones never read again; a sends until the relay has
			// let go of every one of them.
			attached := func() int {
				k := 0
				for _, c := range slow {
					if r.Attached(c.Welcome.Session) {
						k++
					}
				}
				return k
			}
			big := strings.Repeat("x", 60000)
			sent := 0
			for attached() > 0 {
				if ctx.Err() != nil || sent >= 5000 {
					t.Fatalf("%d of %d slow readers still attached after %d messages", attached(), n, sent)
				}
				if err := a.Say(big); err != nil {
					t.Fatal(err)
				}
				sent++
			}
			cut := time.Now()
			// Their sockets close within the write deadline of the write
			// they were stuck in (and some slack for a loaded machine).
			limit := cut.Add(writeTimeout + 2*time.Second)
			for s.Relay.Conns() > 1 {
				if time.Now().After(limit) {
					t.Fatalf("%d sockets open %v after the relay let the last slow reader go, want 1", s.Relay.Conns(), time.Since(cut))
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("%d slow readers let go after %d messages; their sockets gone %v later", n, sent, time.Since(cut).Round(time.Millisecond))
			// Each leaves the room as too slow, at once: not as a lost
			// network that could resume, holding frames for the grace
			// period.
			vtest.Poll(t, "the sender to hear who left", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return r.Members() == 1 && reasons[protocol.LeftTooSlow]+reasons[protocol.LeftDropped] == n
			})
			mu.Lock()
			if d := reasons[protocol.LeftDropped]; d > 0 {
				t.Errorf("%d of %d slow readers left as dropped, not as too slow", d, n)
			}
			mu.Unlock()

			// Everyone leaves; the process returns to its baseline.
			for _, c := range slow {
				c.WS.CloseNow()
			}
			a.WS.Close(websocket.StatusNormalClosure, "bye")
			<-drained
			vtest.Poll(t, "the room to empty", func() bool { return r.Members() == 0 && s.Relay.Conns() == 0 })
			var g int
			deadline := time.Now().Add(10 * time.Second)
			for g = runtime.NumGoroutine(); g > baseG+goSlack; g = runtime.NumGoroutine() {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("%d goroutines, %d before the clients came:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(20 * time.Millisecond)
			}
			var heap uint64
			for heap = heapInuse(); heap > baseHeap+heapSlack; heap = heapInuse() {
				if time.Now().After(deadline) {
					t.Fatalf("heap in use %d MiB, %d MiB before the clients came", heap>>20, baseHeap>>20)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("goroutines %d -> %d, heap in use %d -> %d KiB", baseG, g, baseHeap>>10, heap>>10)
		})
	}
}
