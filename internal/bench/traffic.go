package bench

import (
	"context"
	"runtime"
	"sync"
	"time"

	"veil/internal/protocol"
)

// traffic runs the senders for Duration, then waits for the envelopes in
// flight, and fills res. It returns the CPU clocks at the start and the end
// of the measured window.
func (r *run) traffic(ctx context.Context, rooms []*benchRoom, members []*member, res *Result) (m0, m1 meter) {
	cfg := r.cfg
	data := make([]byte, cfg.Size)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	var senders []*sender
	receipts := map[*benchRoom]int{}
	for _, rm := range rooms {
		rm.mu.Lock()
		byID := map[uint32]*sender{}
		for _, m := range rm.members {
			if m.send {
				s := newSender(m, m.id, data, cfg.Rate, cfg.Window)
				byID[m.session] = s
				senders = append(senders, s)
			}
		}
		receipts[rm] = len(rm.members) - 1
		rm.mu.Unlock()
		rm.senders.Store(&byID)
	}
	res.Senders = len(senders)
	if len(senders) == 0 {
		r.errs.add("no sender joined", 1)
		m0 = r.procs.meter()
		return m0, m0
	}
	per := int(cfg.Rate*cfg.Duration.Seconds()) + 1
	if cfg.Window > 0 {
		per = r.warmUp(ctx, senders, members)
	}
	r.sealAhead(senders, per)

	r.measuring.Store(true)
	m0 = r.procs.meter()
	start := time.Since(r.base) + 20*time.Millisecond
	end := start + cfg.Duration
	r.progress("sending for %v", cfg.Duration)
	r.send(ctx, senders, start, end, receipts)

	var expected int64
	for _, s := range senders {
		res.Sent += s.sent
		res.Offered += s.offered
		res.SealedLive += s.live
		expected += s.sent * int64(receipts[s.m.room])
		r.errs.add("envelopes given up after 2 s in flight (closed loop)", s.lost)
		if s.offered > s.sent {
			r.errs.add("envelopes offered but not sent (the server pushed back, or the socket closed)", s.offered-s.sent)
		}
	}
	res.Expected = expected
	delivered := r.drain(ctx, members, expected)
	m1 = r.procs.meter()

	last := time.Duration(0)
	for _, m := range members {
		last = max(last, time.Duration(m.last.Load()))
	}
	window := last - start
	if window <= 0 {
		window = cfg.Duration
	}
	res.Seconds = window.Seconds()
	res.Delivered = delivered
	res.DeliveriesPerSec = float64(delivered) / window.Seconds()
	if expected > 0 {
		res.DeliveredPct = 100 * float64(delivered) / float64(expected)
	}
	r.errs.add("deliveries missing (not received by the end of the wait)", max(expected-delivered, 0))
	return m0, m1
}

// send runs every sender from start to end and waits for them.
func (r *run) send(ctx context.Context, senders []*sender, start, end time.Duration, receipts map[*benchRoom]int) {
	var wg sync.WaitGroup
	for k, s := range senders {
		rm := s.m.room
		if r.cfg.Rate > 0 {
			// Spread the senders' first envelopes over one interval.
			offset := time.Duration(float64(time.Second) / r.cfg.Rate * float64(k) / float64(len(senders)))
			wg.Go(func() { s.openLoop(ctx, r, start+offset, end, receipts[rm]) })
		} else {
			wg.Go(func() {
				time.Sleep(start - time.Since(r.base))
				s.closedLoop(ctx, r, end, func() int { return int(rm.alive.Load()) - 1 })
			})
		}
	}
	wg.Wait()
}

// warmUpTime is how long closed-loop senders run, sealing as they go and
// unmeasured, to learn how many envelopes to seal ahead.
const warmUpTime = time.Second

// warmUp runs the closed-loop senders for warmUpTime, waits for their
// envelopes, forgets the deliveries, and returns how many envelopes each
// sender should seal ahead: 1.5 times what the warm-up rate would send in
// Duration. Sealing as it goes, the generator may be slower than the
// server; past the envelopes sealed ahead it seals as it goes again, and the
// report counts those.
func (r *run) warmUp(ctx context.Context, senders []*sender, members []*member) int {
	r.progress("warming up for %v", warmUpTime)
	start := time.Since(r.base) + 20*time.Millisecond
	r.send(ctx, senders, start, start+warmUpTime, nil)
	var sent, expected int64
	for _, s := range senders {
		sent += s.sent
		expected += s.sent * int64(s.m.room.joined.Load()-1)
	}
	r.drain(ctx, members, expected)
	for _, m := range members {
		m.delivered.Store(0)
		m.last.Store(0)
	}
	for _, s := range senders {
		s.giveUp() // anything still in flight is not waited for
		r.errs.add("envelopes given up during the warm-up (closed loop)", s.lost)
		s.sent, s.live, s.lost = 0, 0, 0
	}
	perSender := float64(sent) / warmUpTime.Seconds() / float64(len(senders))
	return int(1.5*perSender*r.cfg.Duration.Seconds()) + 4*r.cfg.Window
}

// drain waits for the deliveries still in flight: until all expected have
// arrived, none has for a second, or 5 s have passed. It returns the
// deliveries so far.
func (r *run) drain(ctx context.Context, members []*member, expected int64) int64 {
	deadline := time.Now().Add(5 * time.Second)
	var prev int64 = -1
	lastMove := time.Now()
	for {
		var sum int64
		for _, m := range members {
			sum += m.delivered.Load()
		}
		now := time.Now()
		if sum != prev {
			prev, lastMove = sum, now
		}
		if sum >= expected || now.Sub(lastMove) > time.Second || now.After(deadline) || ctx.Err() != nil {
			return sum
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// presealBudget bounds the memory of envelopes sealed ahead.
const presealBudget = 256 << 20

// sealAhead seals per envelopes of each sender before the clock starts, so
// that the generator spends its time reading, not signing (Ed25519 costs
// tens of microseconds an envelope).
func (r *run) sealAhead(senders []*sender, per int) {
	frameLen := 1 + protocol.HeaderLen + protocol.NonceLen + paddedLen(r.cfg.Size) + protocol.TagLen + protocol.SigLen
	per = min(per, presealBudget/frameLen/len(senders))
	r.progress("sealing %d envelopes ahead", per*len(senders))
	type job struct {
		s *sender
		i int
	}
	jobs := make(chan job, 1024)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				f, err := j.s.seal(j.s.seq + uint64(j.i))
				if err != nil {
					r.errs.add("seal: "+err.Error(), 1)
					continue
				}
				j.s.frames[j.i] = f
			}
		})
	}
	for _, s := range senders {
		s.frames, s.first = make([][]byte, per), s.seq
	}
	for i := range per {
		for _, s := range senders {
			jobs <- job{s, i}
		}
	}
	close(jobs)
	wg.Wait()
}

// paddedLen is the padded plaintext size of a message of n bytes.
func paddedLen(n int) int {
	for _, b := range []int{256, 1024, 4096, 16384, 65536} {
		if n+4 <= b {
			return b
		}
	}
	return 65536
}
