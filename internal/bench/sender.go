package bench

import (
	"context"
	"math/bits"
	"sync/atomic"
	"time"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// A sender's slot ring remembers, per seq, when the envelope left and how
// many receipts it still waits for, so that receivers time deliveries by
// the clear header alone. state packs seq (low 48 bits) and the receipts
// left (high 16 bits), so that a receipt is counted against the right seq
// with one compare-and-swap.
type slot struct {
	state atomic.Uint64
	at    atomic.Int64 // ns since run.base
}

const (
	seqBits = 48
	seqMask = 1<<seqBits - 1
)

// sender is a member that sends group envelopes.
type sender struct {
	// set at construction
	m       *member
	id      e2ee.Identity
	slots   []slot
	mask    uint64
	credits chan struct{} // closed loop: one per envelope it may send
	data    []byte        // the plaintext of every message

	// owned by the sender's goroutine until run waits for it
	seq     uint64   // the next seq (the hello was 1)
	frames  [][]byte // sealed ahead, from seq first on
	first   uint64
	sent    int64
	offered int64 // open loop: envelopes the schedule offered
	live    int64 // envelopes sealed during the run because frames ran out
	lost    int64 // closed loop: envelopes given up on
	oldest  uint64
	failed  bool
}

// lossTimeout is how long a closed-loop sender waits for a credit before it
// gives up on the envelopes in flight (a receiver is gone or they were
// dropped) and counts them lost.
const lossTimeout = 2 * time.Second

// lateGrace is how long past the end an open-loop sender that fell behind
// its schedule (the server pushed back) may still send.
const lateGrace = 2 * time.Second

func newSender(m *member, id e2ee.Identity, data []byte, rate float64, window int) *sender {
	n := 64
	if rate > 0 {
		n = max(n, int(rate*16)) // 16 s of envelopes: a later receipt is "too late to time"
	} else {
		n = max(n, window*64)
	}
	n = min(1<<bits.Len(uint(n-1)), 1<<20)
	s := &sender{m: m, id: id, slots: make([]slot, n), mask: uint64(n - 1), data: data, seq: 2, oldest: 2}
	if window > 0 {
		s.credits = make(chan struct{}, window)
		for range window {
			s.credits <- struct{}{}
		}
	}
	return s
}

// seal returns the ENVELOPE frame of the envelope with seq.
func (s *sender) seal(seq uint64) ([]byte, error) {
	h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV1, Kind: protocol.KindMsg, RID: s.m.room.keys.RID, Sender: s.m.session, Seq: seq}
	env, err := e2ee.Seal(h, s.m.room.keys.Msg[:], s.id.Ed, s.data, nil)
	if err != nil {
		return nil, err
	}
	return append([]byte{protocol.TypeEnvelope}, env...), nil
}

// next returns the frame for the next seq: sealed ahead if there is one,
// else sealed now.
func (s *sender) next() ([]byte, error) {
	i := s.seq - s.first
	if s.seq >= s.first && i < uint64(len(s.frames)) && s.frames[i] != nil {
		f := s.frames[i]
		s.frames[i] = nil
		return f, nil
	}
	s.live++
	return s.seal(s.seq)
}

// stamp records that seq leaves at at and waits for receipts.
func (s *sender) stamp(seq uint64, at time.Duration, receipts int) {
	sl := &s.slots[seq&s.mask]
	sl.state.Store(0) // receivers that read the old state fail their swap
	sl.at.Store(int64(at))
	sl.state.Store(seq&seqMask | uint64(min(receipts, 0xffff))<<seqBits)
}

// receipt counts one delivery of seq and returns when it left. ok is false
// for a seq the ring no longer holds or that had all its receipts.
func (s *sender) receipt(seq uint64) (at time.Duration, ok bool) {
	sl := &s.slots[seq&s.mask]
	for {
		st := sl.state.Load()
		left := st >> seqBits
		if st&seqMask != seq&seqMask || left == 0 {
			return 0, false
		}
		at := sl.at.Load()
		if sl.state.CompareAndSwap(st, st-1<<seqBits) {
			if left == 1 && s.credits != nil {
				s.credits <- struct{}{} // never blocks: one credit per envelope
			}
			return time.Duration(at), true
		}
	}
}

// giveUp counts the closed-loop envelopes still in flight as lost and takes
// their credits back.
func (s *sender) giveUp() {
	for ; s.oldest < s.seq; s.oldest++ {
		sl := &s.slots[s.oldest&s.mask]
		for {
			st := sl.state.Load()
			if st&seqMask != s.oldest&seqMask || st>>seqBits == 0 {
				break
			}
			if sl.state.CompareAndSwap(st, st&seqMask) {
				s.lost++
				s.credits <- struct{}{}
				break
			}
		}
	}
}

// openLoop sends on a fixed schedule, Rate envelopes a second from start,
// until end, whatever the server does (open loop). Latency counts from the
// scheduled time, so a server that pushes back shows it.
func (s *sender) openLoop(ctx context.Context, r *run, start, end time.Duration, receipts int) {
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for at := start; at < end; at += interval {
		s.offered++
		if s.failed {
			continue
		}
		now := time.Since(r.base)
		if now > end+lateGrace {
			continue // behind schedule for good: offered, never sent
		}
		if wait := at - now; wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		s.write(ctx, r, at, receipts)
	}
}

// closedLoop keeps Window envelopes in flight until end: each new one
// leaves when an earlier one has reached every other member (or was given
// up on after lossTimeout).
func (s *sender) closedLoop(ctx context.Context, r *run, end time.Duration, receipts func() int) {
	deadline := time.NewTimer(end - time.Since(r.base))
	defer deadline.Stop()
	loss := time.NewTimer(lossTimeout)
	defer loss.Stop()
	for !s.failed {
		select {
		case <-s.credits:
		default:
			loss.Reset(lossTimeout)
			select {
			case <-s.credits:
			case <-loss.C:
				s.giveUp()
				continue
			case <-deadline.C:
				return
			case <-ctx.Done():
				return
			}
		}
		if time.Since(r.base) >= end {
			return
		}
		s.write(ctx, r, time.Since(r.base), receipts())
	}
}

// write sends the next envelope, stamped at.
func (s *sender) write(ctx context.Context, r *run, at time.Duration, receipts int) {
	f, err := s.next()
	if err != nil {
		r.errs.add("seal: "+err.Error(), 1)
		s.failed = true
		return
	}
	s.stamp(s.seq, at, receipts)
	if receipts == 0 && s.credits != nil {
		s.credits <- struct{}{} // nobody to wait for
	}
	if err := s.m.ws.WriteBinary(ctx, f); err != nil {
		if !r.ending.Load() {
			r.errs.add("send: "+classify(err), 1)
		}
		s.failed = true
		return
	}
	s.seq++
	s.sent++
}
