package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// ErrUnreachable wraps the failure to reach a server before a run starts.
var ErrUnreachable = errors.New("server unreachable")

// run is the state of one scenario run.
type run struct {
	// set at construction
	cfg       Config
	base      time.Time      // the origin of every timestamp (monotonic)
	hc        *http.Client   // the HTTP API
	wsClients []*http.Client // the WebSocket dials, one per source address
	procs     procs

	errs      tally
	ending    atomic.Bool // set when the run tears down: closes are expected
	measuring atomic.Bool // set when the measured window starts: latencies count
	readers   sync.WaitGroup
}

// Run runs one scenario and returns its result. It fails only when the run
// cannot happen at all (a bad config, an unreachable server, no client
// admitted); everything a server refuses or drops is counted in the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16, ResponseHeaderTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	r := &run{cfg: cfg, base: time.Now(), hc: &http.Client{Transport: tr, Timeout: time.Minute}, procs: cfg.PIDs}
	for i := range max(cfg.SourceAddrs, 1) {
		hc := wsClient(cfg.source(i))
		defer hc.CloseIdleConnections()
		r.wsClients = append(r.wsClients, hc)
	}
	for _, s := range cfg.Servers {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := reach(rctx, r.hc, strings.TrimRight(s, "/"))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
	}
	for _, pid := range cfg.PIDs {
		if err := CheckPID(pid); err != nil {
			return nil, err
		}
	}
	if cfg.Kind == JoinStorm {
		return r.storm(ctx)
	}
	return r.rooms(ctx)
}

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench %s: %s\n", r.cfg.Name, fmt.Sprintf(format, args...))
	}
}

// newRooms makes the rooms' keys and creates them on their servers, a few
// at a time. A room the server refuses is counted and left out.
func (r *run) newRooms(ctx context.Context, sizes func(i int) int) ([]*benchRoom, error) {
	rooms := make([]*benchRoom, r.cfg.Rooms)
	for i := range rooms {
		rooms[i] = &benchRoom{idx: i, server: strings.TrimRight(r.cfg.Servers[i%len(r.cfg.Servers)], "/"), size: sizes(i)}
	}
	r.progress("creating %d rooms", len(rooms))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(8, len(rooms)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(rooms) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				k, err := createRoom(ctx, r.hc, rooms[i].server)
				if err != nil {
					r.errs.add(classify(err), 1)
					continue
				}
				rooms[i].keys = k
				rooms[i].created.Store(true)
			}
		})
	}
	wg.Wait()
	return rooms, ctx.Err()
}

// rooms runs the scenarios whose members sit in rooms: traffic, idle and
// scale.
func (r *run) rooms(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	res := r.newResult()
	rss0, _ := r.procs.RSS()
	rooms, err := r.newRooms(ctx, func(i int) int { return membersOf(cfg.Clients, cfg.Rooms, i) })
	if err != nil {
		return nil, err
	}
	members := make([]*member, cfg.Clients)
	for i := range members {
		rm := rooms[i%cfg.Rooms]
		srv := strings.TrimRight(cfg.Servers[i%len(cfg.Servers)], "/")
		addr, _ := ParseServer(srv)
		members[i] = &member{idx: i, room: rm, server: srv, addr: addr, done: make(chan struct{}),
			send: cfg.Kind == Traffic && i/cfg.Rooms < cfg.Senders}
	}
	defer r.teardown(rooms, members)

	r.progress("connecting %s", cfg.describe())
	took := r.connect(ctx, members)
	res.ConnectSeconds = took.Seconds()
	for _, rm := range rooms {
		res.Connected += int(rm.joined.Load())
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if res.Connected == 0 {
		r.fillErrors(res)
		return res, ErrNoneJoined
	}
	r.settle(ctx, members)
	rss1, _ := r.procs.RSS()

	var m0, m1 meter
	if cfg.Kind == Traffic {
		m0, m1 = r.traffic(ctx, rooms, members, res)
	} else {
		r.progress("holding %d connections for %v", res.Connected, cfg.Duration)
		m0 = r.procs.meter()
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
		}
		m1 = r.procs.meter()
		res.Seconds = m1.at.Sub(m0.at).Seconds()
	}
	for _, rm := range rooms {
		res.Held += int(rm.alive.Load())
	}
	rss2, rssOK := r.procs.RSS()
	r.setCPU(res, m0, m1)
	if rssOK {
		r.setRSS(res, rss0, rss1, rss2)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.teardown(rooms, members)
	var h histogram
	for _, m := range members {
		if m.hist != nil {
			h.Merge(m.hist)
		}
	}
	res.setLatency(&h)
	r.fillErrors(res)
	return res, nil
}

// ErrNoneJoined is a run in which no client was admitted.
var ErrNoneJoined = errors.New("no client could join (see the errors)")

// connect joins every member, a few at a time and paced by ConnectRate,
// announces it and starts its reader. It returns how long it took. In the
// scale scenario it stops at the first sign that the machine is full.
func (r *run) connect(ctx context.Context, members []*member) time.Duration {
	idleID, err := e2ee.NewIdentity()
	if err != nil {
		r.errs.add("identity: "+err.Error(), 1)
		return 0
	}
	start := time.Now()
	var next, joined, fails atomic.Int64
	var stop atomic.Bool
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	var wg sync.WaitGroup
	for range min(64, len(members)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(members) || stop.Load() || ctx.Err() != nil {
					return
				}
				if r.cfg.ConnectRate > 0 {
					at := start.Add(time.Duration(float64(i) / r.cfg.ConnectRate * float64(time.Second)))
					select {
					case <-time.After(time.Until(at)):
					case <-ctx.Done():
						return
					}
				}
				m := members[i]
				if !m.room.created.Load() {
					r.errs.add("not joined: its room was not created", 1)
					continue
				}
				err := r.admit(ctx, m, idleID)
				if err == nil {
					fails.Store(0)
					joined.Add(1)
					continue
				}
				if ctx.Err() != nil {
					return
				}
				r.errs.add("join: "+classify(err), 1)
				full := errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.EADDRNOTAVAIL)
				if r.cfg.Kind == Scale && (full || fails.Add(1) >= 200) {
					stop.Store(true)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			took := time.Since(start)
			if stop.Load() {
				r.progress("stopped connecting after %d: the server or this machine refuses more", joined.Load())
			}
			return took
		case <-report.C:
			r.progress("%d of %d connected", joined.Load(), len(members))
		}
	}
}

// admit joins m, starts its reader and sends its hello. Non-senders share
// one identity (the server cannot tell; it saves a key pair per member).
func (r *run) admit(ctx context.Context, m *member, idleID e2ee.Identity) error {
	if err := r.join(ctx, m); err != nil {
		return err
	}
	id := idleID
	if m.send {
		var err error
		if id, err = e2ee.NewIdentity(); err != nil {
			m.ws.Close()
			return err
		}
	}
	rm := m.room
	rm.joined.Add(1)
	rm.alive.Add(1)
	rm.mu.Lock()
	rm.members = append(rm.members, m)
	rm.mu.Unlock()
	if m.send {
		m.id = id // read once connect has returned
	}
	r.readers.Add(1)
	go func() {
		defer r.readers.Done()
		m.read(r)
	}()
	if err := r.hello(ctx, m, id); err != nil {
		r.errs.add("hello: "+classify(err), 1)
	}
	return nil
}

// settle waits, for a bounded time, until every member has learnt of every
// other member of its room (WELCOME and hellos), so that set-up traffic is
// over before anything is measured.
func (r *run) settle(ctx context.Context, members []*member) {
	n := 0
	for _, m := range members {
		if m.ws != nil {
			n++
		}
	}
	deadline := time.Now().Add(10*time.Second + time.Duration(n)*time.Second/2000)
	missing := int64(0)
	for {
		missing = 0
		for _, m := range members {
			select {
			case <-m.done:
				continue
			default:
			}
			if m.ws != nil {
				missing += max(int64(m.room.joined.Load()-1-m.known.Load()), 0)
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.errs.add("hellos not received by the end of set-up", missing)
}

// teardown purges every room (so the server forgets them before the next
// scenario), then closes every socket, and waits for the readers. It is
// idempotent.
func (r *run) teardown(rooms []*benchRoom, members []*member) {
	if r.ending.Swap(true) {
		return
	}
	live := func(m *member) bool {
		if m.ws == nil {
			return false
		}
		select {
		case <-m.done:
			return false
		default:
			return true
		}
	}
	for _, rm := range rooms {
		// The last to join: a sender's socket may still be full of
		// envelopes the server has not read.
		rm.mu.Lock()
		for _, m := range slices.Backward(rm.members) {
			if live(m) && m.ws.WriteBinary(context.Background(), protocol.Encode(protocol.Purge{})) == nil {
				break
			}
		}
		rm.mu.Unlock()
	}
	all := make(chan struct{})
	go func() { r.readers.Wait(); close(all) }()
	wait := func(d time.Duration) {
		select {
		case <-all:
		case <-time.After(d):
		}
	}
	wait(3 * time.Second)
	// A server that ignores PURGE (the baseline): leave, all at once, since
	// each Leave waits for the server's answer.
	var leaving sync.WaitGroup
	for _, m := range members {
		if live(m) {
			leaving.Go(func() { m.ws.Leave(protocol.CloseNormal) })
		}
	}
	wait(3*time.Second + time.Duration(len(members))*time.Second/5000)
	for _, m := range members {
		if m.ws != nil {
			m.ws.Close()
		}
	}
	<-all
	leaving.Wait()
}
