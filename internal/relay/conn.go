package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"veil/internal/protocol"
	"veil/internal/room"
)

// conn is one socket. The serve goroutine reads. Writes go through a
// queue that a writer goroutine drains; the writer exists only while there
// is something to write, so an idle socket holds no goroutine for it and no
// queue memory.
type conn struct {
	// set at construction
	s     *Server
	ws    *websocket.Conn
	cork  *corkConn     // ws's connection
	done  chan struct{} // closed by Close
	proof string        // the proof of work the socket URL carried, if any
	ctx   context.Context

	closeOnce sync.Once
	why       *protocol.Reject // written once before done is closed

	qmu      sync.Mutex // guards the fields below
	queue    [][]byte   // frames waiting for the writer, in order
	spare    [][]byte   // a drained queue's array, for reuse
	writing  bool       // a writer goroutine is running
	closing  bool       // Close was called: the close frame follows the queue
	broken   bool       // a write failed: nothing more is written
	finished chan struct{}
	finOnce  sync.Once

	stuck *time.Timer // the write timeout, reused; owned by the writer

	memberMu sync.Mutex // guards rm and m, set once admitted
	rm       *room.Room
	m        *room.Member

	chunkBytes atomic.Int64 // bytes of file chunks queued
	lastFrame  atomic.Int64 // unix nanoseconds of the last frame read

	lastPing time.Time   // owned by the server's keepAlive
	pinging  atomic.Bool // a ping awaits its pong

	skipMu  sync.Mutex // guards skipped
	skipped map[uint32]bool

	// owned by serve: the transfer this peer is sending (one file at a
	// time, docs/protocol.md 8.2) and its bytes so far
	curTID   uint32
	curBytes int64

	// owned by serve: this session's send budget
	msgs, bytes, ctl *rate.Limiter
	dropped          int       // frames dropped for going too fast, since the last quiet spell
	lastDrop         time.Time // when the last was dropped
}

// floodQuiet is how long a session must stay within its budget for its
// dropped frames to be forgiven.
const floodQuiet = 10 * time.Second

// ErrFlooding closes a session that kept sending far over its budget.
var ErrFlooding = &protocol.Reject{Code: protocol.CloseTooMany, Reason: "too many messages"}

// ctlFrame stands for the frames that are not envelopes (PURGE, OWNER,
// KICK, LOCK, ACTIVE) in allow: they spend the control budget.
const ctlFrame byte = 0

// allow spends this session's budget on an envelope of kind and size n (or
// a frame that is no envelope: ctlFrame). It reports whether to act on it;
// past CutAfter drops without a quiet spell (floodQuiet) between them it
// returns ErrFlooding.
//
// After a drop it stops reading this socket until the budget has room
// again: a flooder's frames then wait in its own TCP buffers, not in the
// relay's CPU, and honest members do not pay for them.
func (c *conn) allow(ctx context.Context, kind byte, n int) (bool, error) {
	if c.msgs == nil {
		o := c.s.opt
		c.msgs = rate.NewLimiter(rate.Limit(o.MsgRate), o.MsgBurst)
		c.bytes = rate.NewLimiter(rate.Limit(o.BytesRate), o.BytesBurst)
		c.ctl = rate.NewLimiter(rate.Limit(o.CtlRate), o.CtlBurst)
	}
	ok := false
	now := time.Now()
	var spent *rate.Limiter // the budget that ran out
	switch kind {
	case protocol.KindChunk:
		return true, nil // paced per room
	case protocol.KindSenderKey, protocol.KindHandshake, ctlFrame:
		ok, spent = c.ctl.AllowN(now, 1), c.ctl
	default:
		if ok, spent = c.msgs.AllowN(now, 1), c.msgs; ok {
			ok, spent = c.bytes.AllowN(now, n), c.bytes
		}
	}
	if ok {
		return true, nil
	}
	// Drops count until the session has kept within its budget for
	// floodQuiet; a flooder that is only throttled keeps counting.
	if now.Sub(c.lastDrop) > floodQuiet {
		c.dropped = 0
	}
	c.lastDrop = now
	c.dropped++
	if c.dropped == 1 {
		c.Send(protocol.Encode(protocol.Error{Code: protocol.CloseTooMany, Reason: "slow down: you are sending too fast, and messages were dropped"}))
	}
	if c.dropped > c.s.opt.CutAfter {
		return false, ErrFlooding
	}
	k := 1
	if spent == c.bytes {
		k = min(n, c.s.opt.BytesBurst)
	}
	r := spent.ReserveN(now, k)
	wait := min(r.DelayFrom(now), time.Second)
	r.CancelAt(now)
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-c.done:
		}
	}
	return false, nil
}

// MaxChunkQueue bounds the file chunk bytes queued for one socket.
const MaxChunkQueue = 2 << 20

func isChunk(frame []byte) bool {
	return len(frame) > 3 && frame[0] == protocol.TypeEnvelope && frame[3] == protocol.KindChunk
}

// SendChunk queues a file chunk unless this socket's chunk queue is full;
// then the chunk is skipped for this peer alone, and the peer is told once
// per transfer.
func (c *conn) SendChunk(frame []byte, tid uint32) {
	if c.chunkBytes.Add(int64(len(frame))) <= MaxChunkQueue && c.Send(frame) {
		return
	}
	c.chunkBytes.Add(-int64(len(frame)))
	c.skipMu.Lock()
	first := !c.skipped[tid]
	if c.skipped == nil || len(c.skipped) >= 1024 {
		c.skipped = map[uint32]bool{} // bounded: a flood of transfer ids cannot grow it
	}
	c.skipped[tid] = true
	c.skipMu.Unlock()
	if first {
		c.Send(protocol.Encode(protocol.Error{Code: protocol.CloseTooSlow, Reason: "file transfer skipped: you are reading too slowly"}))
	}
}

func (c *conn) setMember(rm *room.Room, m *room.Member) {
	c.memberMu.Lock()
	c.rm, c.m = rm, m
	c.memberMu.Unlock()
}

func (c *conn) member() (*room.Room, *room.Member) {
	c.memberMu.Lock()
	defer c.memberMu.Unlock()
	return c.rm, c.m
}

// Send queues frame without blocking. It reports false when the queue is
// full or the socket is closing.
func (c *conn) Send(frame []byte) bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing || c.broken || len(c.queue) >= c.s.opt.QueueLen {
		return false
	}
	if c.queue == nil {
		c.queue, c.spare = c.spare, nil
	}
	c.queue = append(c.queue, frame)
	c.startWriterLocked()
	return true
}

// Close ends the socket with r once the frames already queued are written.
func (c *conn) Close(r *protocol.Reject) {
	c.closeOnce.Do(func() {
		c.qmu.Lock()
		c.why = r
		c.closing = true
		close(c.done)
		c.startWriterLocked()
		c.qmu.Unlock()
	})
}

func (c *conn) startWriterLocked() {
	if !c.writing && !c.broken {
		c.writing = true
		go c.flush()
	}
}

// finish marks the writer's work over: the close frame is sent, or the
// socket failed.
func (c *conn) finish() { c.finOnce.Do(func() { close(c.finished) }) }

// closeReason trims a reason to the 123 bytes a close frame may carry.
func closeReason(s string) string {
	for len(s) > 123 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// flush writes the queued frames in order until the queue is empty, and
// then, if the socket is closing, the close frame.
func (c *conn) flush() {
	for {
		c.qmu.Lock()
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 {
			closing := c.closing
			c.writing = closing // a closing socket's writer never comes back
			if cap(c.spare) > 16 {
				c.spare = nil // an idle socket keeps no large array
			}
			c.qmu.Unlock()
			if !closing {
				c.cork.release()
				return
			}
			c.ws.Close(websocket.StatusCode(c.why.Code), closeReason(c.why.Reason))
			c.finish()
			return
		}
		c.qmu.Unlock()
		// The frames go out corkAt bytes at a time, in one write each;
		// a segment that fails is held whole for a resume.
		start, size := 0, 0
		c.cork.cork()
		for i, b := range batch {
			if isChunk(b) {
				c.chunkBytes.Add(-int64(len(b)))
			}
			err := c.write(b)
			if size += len(b); err == nil && (size >= corkAt || i == len(batch)-1) {
				err = c.timed(c.cork.uncork)
				if err == nil && i < len(batch)-1 {
					start, size = i+1, 0
					c.cork.cork()
				}
			}
			if err != nil {
				c.cork.discard()
				c.failed(batch[start:])
				return
			}
		}
		clear(batch)
		c.qmu.Lock()
		c.spare = batch[:0] // the next batch's array, while traffic lasts
		c.qmu.Unlock()
	}
}

// write writes one frame within WriteTimeout. A write that outlasts it
// means the peer is there but does not read: the session is marked too
// slow before the socket is shut, so the read loop, which sees the socket
// fail first, knows why.
func (c *conn) write(b []byte) error {
	// A context that never ends: timed bounds the write, and the library
	// sets up no cancellation of its own for every frame.
	return c.timed(func() error { return c.ws.Write(context.Background(), websocket.MessageBinary, b) })
}

// timed runs a write within WriteTimeout, or marks the session too slow
// and shuts the socket.
func (c *conn) timed(write func() error) error {
	if c.stuck == nil {
		c.stuck = time.AfterFunc(c.s.opt.WriteTimeout, func() {
			c.Close(protocol.ErrTooSlow)
			c.ws.CloseNow()
		})
	} else {
		c.stuck.Reset(c.s.opt.WriteTimeout)
	}
	err := write()
	c.stuck.Stop()
	return err
}

// failed handles a write that failed. If the network went away (the socket
// was not closing) the session is detached, so that it may resume, and the
// frames not yet written, the failed one first, are held for it in order.
func (c *conn) failed(unwritten [][]byte) {
	c.qmu.Lock()
	c.broken = true
	closing := c.closing
	c.qmu.Unlock()
	if !closing {
		unsent := func() [][]byte {
			c.qmu.Lock()
			defer c.qmu.Unlock()
			frames := append(unwritten, c.queue...)
			c.queue = nil
			return frames
		}
		if rm, m := c.member(); rm != nil {
			rm.Drop(m, c, unsent)
		}
	}
	c.ws.CloseNow()
	c.finish()
}

// serve runs the socket: admission, then the read loop. It returns when the
// socket is closed and its writer has finished.
func (c *conn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.ctx = ctx
	defer func() {
		<-c.finished
		c.ws.CloseNow()
	}()

	rm, m, err := c.admit(ctx)
	if err != nil {
		c.reject(err)
		return
	}
	c.setMember(rm, m)
	c.lastFrame.Store(time.Now().UnixNano())
	// Reads end when the socket closes; a context that never ends spares
	// the library a cancellation set up for every frame.
	forever := context.WithoutCancel(ctx)
	for {
		typ, b, err := c.ws.Read(forever)
		if err != nil {
			c.readFailed(rm, m, err)
			return
		}
		c.lastFrame.Store(time.Now().UnixNano())
		if typ != websocket.MessageBinary {
			c.reject(protocol.BadFrame("text message"))
			break
		}
		f, err := protocol.Decode(b)
		if err != nil {
			c.reject(protocol.BadFrame(trimErr(err)))
			break
		}
		if rej := c.handle(ctx, rm, m, f); rej != nil {
			c.reject(rej)
			break
		}
	}
	// We are closing: the member is gone for good.
	rm.Leave(m, protocol.LeftClosed)
	c.drainReads(ctx)
}

// tick is the keep-alive's visit to this socket (Server.keepAlive): the
// idle limit, then a ping if the last is PingInterval old. The ping runs on
// a goroutine of its own, which lasts only until the pong.
func (c *conn) tick(now time.Time) {
	rm, m := c.member()
	if rm == nil {
		return // not admitted yet: HelloTimeout bounds that
	}
	select {
	case <-c.done:
		return
	default:
	}
	if idle := c.s.opt.Idle; idle > 0 && now.Sub(time.Unix(0, c.lastFrame.Load())) >= idle {
		go rm.Leave(m, protocol.LeftIdle) // in a cluster, leaving writes to NATS
		return
	}
	if c.lastPing.IsZero() {
		c.lastPing = now
		return
	}
	if now.Sub(c.lastPing) < c.s.opt.PingInterval || !c.pinging.CompareAndSwap(false, true) {
		return
	}
	c.lastPing = now
	go func() {
		defer c.pinging.Store(false)
		pctx, cancel := context.WithTimeout(c.ctx, c.s.opt.WriteTimeout)
		err := c.ws.Ping(pctx)
		cancel()
		if err != nil {
			c.ws.CloseNow()
		}
	}()
}

// drainReads reads until the close handshake ends so the close frame is seen.
func (c *conn) drainReads(ctx context.Context) {
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			return
		}
	}
}

func trimErr(err error) string {
	s := err.Error()
	const p = "malformed frame: "
	if len(s) > len(p) && s[:len(p)] == p {
		s = s[len(p):]
	}
	return s
}

// reject closes the socket with err's close code, or 4000 for anything else.
func (c *conn) reject(err error) {
	var r *protocol.Reject
	if !errors.As(err, &r) {
		r = protocol.BadFrame(err.Error())
	}
	c.s.log.Debug("socket refused", "code", r.Code, "reason", r.Reason)
	c.Close(r)
}

// readFailed decides what a failed read means for the session.
func (c *conn) readFailed(rm *room.Room, m *room.Member, err error) {
	select {
	case <-c.done: // we closed it (purge, expiry, kick, shutdown, too slow)
		switch c.why {
		case protocol.ErrGoingAway, protocol.ErrRestart, protocol.ErrSessionEnded:
		case protocol.ErrTooSlow:
			rm.Leave(m, protocol.LeftTooSlow)
		default:
			rm.Leave(m, protocol.LeftClosed)
		}
		return
	default:
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		rm.Disconnect(m, c)
		c.Close(&protocol.Reject{Code: protocol.CloseNormal, Reason: "bye"})
	case websocket.StatusMessageTooBig:
		rm.Leave(m, protocol.LeftClosed)
		c.Close(&protocol.Reject{Code: protocol.CloseTooLarge, Reason: "frame too large"})
	default:
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			rm.Disconnect(m, c)
		} else if isTooBig(err) {
			rm.Leave(m, protocol.LeftClosed)
			c.Close(&protocol.Reject{Code: protocol.CloseTooLarge, Reason: "frame too large"})
			return
		} else {
			rm.Detach(m, c)
		}
		c.Close(&protocol.Reject{Code: protocol.CloseNormal, Reason: "bye"})
	}
}

// admit reads the first frame and joins or resumes.
func (c *conn) admit(ctx context.Context) (*room.Room, *room.Member, error) {
	hctx, cancel := context.WithTimeout(ctx, c.s.opt.HelloTimeout)
	defer cancel()
	typ, b, err := c.ws.Read(hctx)
	if err != nil {
		if isTooBig(err) {
			return nil, nil, &protocol.Reject{Code: protocol.CloseTooLarge, Reason: "frame too large"}
		}
		if hctx.Err() != nil && ctx.Err() == nil {
			return nil, nil, protocol.BadFrame("no JOIN or RESUME in time")
		}
		return nil, nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, nil, protocol.BadFrame("text message")
	}
	f, err := protocol.Decode(b)
	if err != nil {
		return nil, nil, protocol.BadFrame(trimErr(err))
	}
	switch f := f.(type) {
	case protocol.Join:
		if err := c.s.opt.PoW.Check(c.proof, time.Now()); err != nil {
			return nil, nil, &protocol.Reject{Code: protocol.ClosePoW, Reason: err.Error()}
		}
		return c.s.rooms.Join(f.RID, f.Join, c)
	case protocol.Resume:
		return c.s.rooms.Resume(f.RID, f.Token, c)
	}
	return nil, nil, protocol.BadFrame("first frame must be JOIN or RESUME")
}

// handle acts on one frame from an admitted member.
func (c *conn) handle(ctx context.Context, rm *room.Room, m *room.Member, f protocol.Frame) error {
	switch f := f.(type) {
	case protocol.Envelope:
		h := f.Header
		if h.RID != rm.RID() {
			return protocol.BadEnvelope("wrong room")
		}
		if h.Sender != m.Session() {
			return protocol.BadEnvelope("wrong sender")
		}
		if ok, err := c.allow(ctx, h.Kind, len(f.Raw)); !ok {
			return err // nil: dropped, the socket stays
		}
		if h.Kind == protocol.KindChunk {
			if h.Epoch != c.curTID {
				c.curTID, c.curBytes = h.Epoch, 0 // the next file
			}
			limit := rm.MaxFile() + rm.MaxFile()/32 + protocol.MaxFrame // room for the envelopes' overhead
			before := c.curBytes
			c.curBytes += int64(len(f.Raw))
			if c.curBytes > limit {
				if before <= limit {
					c.Send(protocol.Encode(protocol.Error{Code: protocol.CodeFileTooLarge, Reason: "file too large"}))
				}
				return nil
			}
			if err := rm.PaceChunk(ctx, len(f.Raw)); err != nil {
				return nil // the socket is closing
			}
		}
		if e := rm.Envelope(m, f); e != nil {
			c.Send(protocol.Encode(*e))
		}
	case protocol.Logout:
		rm.Leave(m, protocol.LeftLoggedOut)
	case protocol.Purge, protocol.Owner, protocol.Kick, protocol.Lock, protocol.Active:
		if ok, err := c.allow(ctx, ctlFrame, 0); !ok {
			return err
		}
		var e *protocol.Error
		switch f := f.(type) {
		case protocol.Purge:
			e = rm.Purge(m, f.Owner)
		case protocol.Owner:
			e = rm.Claim(m, &f.Key)
		case protocol.Kick:
			e = rm.Kick(m, f.Session)
		case protocol.Lock:
			e = rm.Lock(m, f.Locked)
		}
		if e != nil {
			c.Send(protocol.Encode(*e))
		}
	default:
		return protocol.BadFrame("unexpected frame")
	}
	return nil
}

// isTooBig reports a read over the frame limit; the library has already
// closed the socket with 1009.
func isTooBig(err error) bool { return errors.Is(err, websocket.ErrMessageTooBig) }
