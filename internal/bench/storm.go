package bench

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"veil/internal/protocol"
)

// storm runs join-storm: Clients joiners, each in turn joining one of the
// rooms with the real join value (and a proof of work if the server asks),
// waiting for WELCOME and leaving with a close 1000, as fast as they can for
// Duration.
func (r *run) storm(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	res := r.newResult()
	rss0, _ := r.procs.RSS()
	rooms, err := r.newRooms(ctx, func(int) int { return 0 })
	if err != nil {
		return nil, err
	}
	var ready []*benchRoom
	for _, rm := range rooms {
		if rm.created.Load() {
			ready = append(ready, rm)
		}
	}
	if len(ready) == 0 {
		r.fillErrors(res)
		return res, ErrNoneJoined
	}
	r.progress("%d joiners over %d rooms for %v", cfg.Clients, len(ready), cfg.Duration)
	m0 := r.procs.meter()
	start := time.Now()
	end := start.Add(cfg.Duration)
	hists := make([]histogram, cfg.Clients)
	joins := make([]int64, cfg.Clients)
	var wg sync.WaitGroup
	for w := range cfg.Clients {
		wg.Go(func() {
			rm := ready[w%len(ready)]
			srv := strings.TrimRight(cfg.Servers[w%len(cfg.Servers)], "/")
			m := &member{idx: w, room: rm, server: srv}
			m.addr, _ = ParseServer(srv)
			for k := 0; time.Now().Before(end) && ctx.Err() == nil; k++ {
				m.idx = w + k*cfg.Clients // spreads the source addresses
				t := time.Now()
				err := r.join(ctx, m)
				if err != nil {
					if ctx.Err() == nil {
						r.errs.add("join: "+classify(err), 1)
					}
					// A refused joiner waits a moment rather than spin
					// through the machine's ports.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				hists[w].Record(time.Since(t))
				joins[w]++
				// Leave waits for the server's close frame, so that the server
				// closes the TCP connection first and the generator's ports
				// do not pile up in TIME_WAIT.
				m.ws.Leave(protocol.CloseNormal)
				m.ws = nil
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	r.setCPU(res, m0, r.procs.meter())
	if rss, ok := r.procs.RSS(); ok {
		r.setRSS(res, rss0, rss0, rss)
		res.RSSPerConnKiB = nil // nothing stays connected
	}
	var h histogram
	for w := range hists {
		h.Merge(&hists[w])
		res.Joins += joins[w]
	}
	res.Seconds = wall.Seconds()
	res.JoinsPerSec = float64(res.Joins) / wall.Seconds()
	res.Connected = int(min(res.Joins, int64(cfg.Clients)))
	res.setLatency(&h)
	r.ending.Store(true)
	r.purge(ctx, ready)
	r.fillErrors(res)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if res.Joins == 0 {
		return res, ErrNoneJoined
	}
	return res, nil
}

// purge joins each room once more and purges it, so that the server forgets
// the rooms of the storm.
func (r *run) purge(ctx context.Context, rooms []*benchRoom) {
	for _, rm := range rooms {
		m := &member{room: rm, server: strings.TrimRight(rm.server, "/")}
		m.addr, _ = ParseServer(m.server)
		if err := r.join(ctx, m); err != nil {
			if websocket.CloseStatus(err) == -1 {
				r.errs.add("purge: "+classify(err), 1)
			}
			continue
		}
		m.ws.WriteBinary(ctx, protocol.Encode(protocol.Purge{}))
		m.ws.Leave(protocol.CloseNormal)
	}
}
