package room

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"
	"sync"
	"time"

	"veil/internal/protocol"
)

// Shared is what a registry shares with the other nodes of a cluster
// (package cluster implements it on NATS). A nil Shared is one node with
// everything in its own memory.
type Shared interface {
	// Node returns this node's id.
	Node() string
	// Create registers a room cluster-wide; ErrSharedExists if the id is taken.
	Create(ctx context.Context, rid protocol.RID, rec Record) error
	// Load returns a room's record and its revision; ErrSharedNotFound if
	// there is none.
	Load(ctx context.Context, rid protocol.RID) (Record, uint64, error)
	// Update applies f to the record with compare-and-set and returns the
	// revision written; an error from f is returned as is, except
	// ErrUnchanged, which writes nothing and returns the revision read.
	Update(ctx context.Context, rid protocol.RID, f func(*Record) error) (uint64, error)
	// Delete forgets the room.
	Delete(ctx context.Context, rid protocol.RID) error
	// Publish sends an event to the other nodes serving rid, at most once.
	Publish(rid protocol.RID, event []byte) error
	// Subscribe calls fn in order with every event another node publishes
	// for rid, until stop is called.
	Subscribe(rid protocol.RID, fn func(from string, event []byte)) (stop func(), err error)
	// Rooms lists the id of every room in the cluster.
	Rooms(ctx context.Context) ([]protocol.RID, error)
	// Peers returns the other nodes heard from lately.
	Peers() []string
	// OnNodeDeath has fn called, on a goroutine of its own, once for every
	// node that falls silent.
	OnNodeDeath(fn func(node string))
	// Watch calls fn, in order for each room, with every change of every
	// room's record from now on (nil when the room was deleted or
	// expired), until ctx ends.
	Watch(ctx context.Context, fn func(rid protocol.RID, rec *Record, rev uint64)) error
}

// Errors a Shared returns, and ErrUnchanged, which an Update's f returns
// to leave the record as it is.
var (
	ErrSharedExists   = errors.New("room: exists in the cluster")
	ErrSharedNotFound = errors.New("room: not in the cluster")
	ErrUnchanged      = errors.New("room: record unchanged")
)

// SharedMember is one session as every node sees it.
type SharedMember struct {
	Session   uint32   `json:"s"`
	TokenHash [32]byte `json:"t"` // SHA-256 of the resume token
	Node      string   `json:"n"` // the node its socket is on
	Hello     []byte   `json:"h,omitempty"`
	Owner     bool     `json:"o,omitempty"`
}

// Record is a room's state shared by every node.
type Record struct {
	Verifier  [32]byte       `json:"v"`
	OwnerHash [32]byte       `json:"w"`
	Deadline  time.Time      `json:"d"`
	TTL       time.Duration  `json:"ttl"`
	Policy    byte           `json:"p"`
	Meta      []byte         `json:"m,omitempty"`
	Locked    bool           `json:"l,omitempty"`
	Members   []SharedMember `json:"ms,omitempty"`
	// Left are the latest departures, so every node says why; Kick asks the
	// node of each session in it to remove that session.
	Left []Departure `json:"lf,omitempty"`
	Kick []uint32    `json:"k,omitempty"`
}

// Clone returns a copy of r that shares no slice with it (the bytes of
// hellos and meta, which nobody changes in place, excepted).
func (r Record) Clone() Record {
	r.Members = slices.Clone(r.Members)
	r.Left = slices.Clone(r.Left)
	r.Kick = slices.Clone(r.Kick)
	return r
}

// Departure is a session that left, and why (a LEFT reason).
type Departure struct {
	Session uint32 `json:"s"`
	Reason  byte   `json:"r"`
}

// maxDepartures bounds Record.Left.
const maxDepartures = 64

// depart removes session and records why.
func (r *Record) depart(session uint32, reason byte) {
	r.remove(session)
	r.Left = append(r.Left, Departure{session, reason})
	if len(r.Left) > maxDepartures {
		r.Left = r.Left[len(r.Left)-maxDepartures:]
	}
	for i, k := range r.Kick {
		if k == session {
			r.Kick = append(r.Kick[:i:i], r.Kick[i+1:]...)
			break
		}
	}
}

// member returns the record's member with session, or nil.
func (r *Record) member(session uint32) *SharedMember {
	for i := range r.Members {
		if r.Members[i].Session == session {
			return &r.Members[i]
		}
	}
	return nil
}

// remove drops session from the record.
func (r *Record) remove(session uint32) {
	for i := range r.Members {
		if r.Members[i].Session == session {
			r.Members = append(r.Members[:i:i], r.Members[i+1:]...)
			return
		}
	}
}

// remoteMember is a member whose socket is on another node.
type remoteMember struct {
	node  string
	hello []byte
	owner bool
	// recorded: a record applied here lists it. One known only from its
	// hello on the room's subject (which outruns the record) is not taken
	// for gone by an older record that does not list it yet.
	recorded bool
}

// Events between nodes on a room's subject: the first byte is evEnvelope
// and the rest the envelope frame as its sender sent it. Everything else a
// node must know (members, hellos, departures, lock, owners, kicks, purge)
// travels in the room's record, whose every change each node watches.
// Hellos go both ways: in the record for nodes that load the room later,
// and on the subject ahead of the sender's next envelopes, which the
// record's slower path would let overtake it.
const evEnvelope byte = 'E'

// sharedTimeout bounds one call to the cluster.
const sharedTimeout = 5 * time.Second

func sharedCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), sharedTimeout)
}

// record is the shared form of a room being created.
func (s Spec) record(deadline time.Time, ttl time.Duration) Record {
	return Record{Verifier: s.Verifier, OwnerHash: s.OwnerHash, Deadline: deadline, TTL: ttl, Policy: s.Policy, Meta: s.Meta}
}

// publish sends an event to the other nodes of the room, if any.
func (r *Room) publish(ev []byte) {
	if r.g.shared != nil {
		r.g.shared.Publish(r.rid, ev)
	}
}

// update changes the room's shared record and returns the revision
// written; errors are those of f, or the cluster's.
func (r *Room) update(f func(*Record) error) (uint64, error) {
	if r.g.shared == nil {
		return 0, nil
	}
	ctx, cancel := sharedCtx()
	defer cancel()
	return r.g.shared.Update(ctx, r.rid, f)
}

// onEvent applies an event from another node.
func (r *Room) onEvent(from string, ev []byte) {
	if len(ev) == 0 || ev[0] != evEnvelope {
		return
	}
	f, err := protocol.Decode(ev[1:])
	env, ok := f.(protocol.Envelope)
	if err != nil || !ok || env.Header.RID != r.rid {
		return
	}
	r.remoteEnvelope(from, env)
}

// apply brings this node's copy of the room in line with a newer record
// (nil: the room was deleted or expired) and tells the members here what
// changed: hellos of new members, departures, the lock; and removes the
// members here that the owner kicked.
func (r *Room) apply(rec *Record, rev uint64) {
	if rec == nil {
		if time.Now().Before(r.deadline) {
			r.end(protocol.ErrPurged)
		} else {
			r.end(protocol.ErrExpired)
		}
		return
	}
	node := r.g.shared.Node()
	r.mu.Lock()
	if r.dead || rev <= r.rev {
		r.mu.Unlock()
		return
	}
	r.rev = rev
	var frames [][]byte
	inRecord := make(map[uint32]*SharedMember, len(rec.Members))
	for i := range rec.Members {
		sm := &rec.Members[i]
		inRecord[sm.Session] = sm
		if sm.Node == node {
			continue // this node's own members it knows first-hand
		}
		rm := r.remote[sm.Session]
		if rm == nil {
			rm = &remoteMember{}
			if r.members[sm.Session] != nil {
				// Taken over by another node (below): the members here
				// know its hello already.
				rm.hello = sm.Hello
			}
			r.remote[sm.Session] = rm
		}
		rm.node, rm.owner, rm.recorded = sm.Node, sm.Owner, true
		if sm.Hello != nil && !bytes.Equal(rm.hello, sm.Hello) {
			rm.hello = sm.Hello
			frames = append(frames, append([]byte{protocol.TypeEnvelope}, sm.Hello...))
		}
	}
	reasons := make(map[uint32]byte, len(rec.Left))
	for _, d := range rec.Left {
		reasons[d.Session] = d.Reason
	}
	why := func(s uint32) byte {
		if w, ok := reasons[s]; ok {
			return w
		}
		return protocol.LeftDropped
	}
	for s, rm := range r.remote {
		_, departed := reasons[s]
		if inRecord[s] == nil && (rm.recorded || departed) {
			delete(r.remote, s)
			frames = append(frames, protocol.Encode(protocol.Left{Session: s, Reason: why(s)}))
		}
	}
	// A session of this node that the record puts on another node was
	// resumed there: its socket here is stale. One the record no longer
	// has was ended by another node (this one was taken for dead).
	var stale []Conn
	for s, m := range r.members {
		sm := inRecord[s]
		if sm != nil && sm.Node == node || rev <= m.rev {
			continue // here, or a record older than its arrival here
		}
		if m.conn != nil {
			stale = append(stale, m.conn)
		}
		r.removeLocked(m)
		if sm == nil {
			frames = append(frames, protocol.Encode(protocol.Left{Session: s, Reason: why(s)}))
		}
	}
	var kicked []*Member
	for _, k := range rec.Kick {
		if m := r.members[k]; m != nil {
			kicked = append(kicked, m)
		}
	}
	var slow []*Member
	for _, f := range frames {
		slow = append(slow, r.fanoutLocked(nil, f)...)
	}
	lockChanged := rec.Locked != r.locked
	r.mu.Unlock()
	for _, c := range stale {
		c.Close(protocol.ErrSessionEnded)
	}
	if lockChanged {
		r.setLocked(rec.Locked)
	}
	// Leaving writes the record: not on the watcher's goroutine, which
	// every room's changes wait for.
	if len(kicked) > 0 {
		go func() {
			for _, m := range kicked {
				r.Leave(m, protocol.LeftRemoved)
			}
		}()
	}
	r.dropSlow(slow)
}

// remoteEnvelope delivers an envelope sent by a member on another node to
// the members here.
func (r *Room) remoteEnvelope(from string, f protocol.Envelope) {
	h := f.Header
	var slow []*Member
	lock, unlock := r.mu.RLock, r.mu.RUnlock
	if h.Kind == protocol.KindHello {
		lock, unlock = r.mu.Lock, r.mu.Unlock
	}
	lock()
	if r.dead {
		unlock()
		return
	}
	switch h.Kind {
	case protocol.KindHello:
		if r.members[h.Sender] != nil {
			break // a session of this node's (a stale event)
		}
		rm := r.remote[h.Sender]
		if rm == nil {
			rm = &remoteMember{node: from}
			r.remote[h.Sender] = rm
		}
		if !bytes.Equal(rm.hello, f.Body()) { // the record may have brought it first
			rm.hello = f.Body()
			slow = r.fanoutLocked(nil, f.Raw)
		}
	case protocol.KindMsg:
		slow = r.fanoutLocked(nil, f.Raw)
	case protocol.KindReport:
		for _, o := range r.order {
			if !o.owner {
				continue
			}
			if !o.deliverLocked(f.Raw) {
				slow = append(slow, o)
			}
		}
	case protocol.KindChunk:
		for _, o := range r.order {
			if h.To != 0 && o.session != h.To {
				continue
			}
			if o.conn == nil {
				o.hold(f.Raw)
			} else {
				o.conn.SendChunk(f.Raw, h.Epoch)
			}
		}
	case protocol.KindDM, protocol.KindSenderKey, protocol.KindHandshake:
		if to := r.members[h.To]; to != nil {
			if !to.deliverLocked(f.Raw) {
				slow = append(slow, to)
			}
		}
	}
	unlock()
	r.dropSlow(slow)
}

// ownerElsewhere reads the room's record for an owner session on another
// node that this node has not heard of yet (a claim made a moment ago).
// Reports are rare; the read is not.
func (r *Room) ownerElsewhere() bool {
	ctx, cancel := sharedCtx()
	defer cancel()
	rec, _, err := r.g.shared.Load(ctx, r.rid)
	if err != nil {
		return false
	}
	for _, m := range rec.Members {
		if m.Owner && m.Node != r.g.shared.Node() {
			return true
		}
	}
	return false
}

// dropSlow ends the sessions that could not keep up, on a goroutine of its
// own: leaving writes the cluster's record, and the callers (the watcher,
// the bus) carry every room's changes.
func (r *Room) dropSlow(slow []*Member) {
	if len(slow) == 0 {
		return
	}
	go func() {
		for _, s := range slow {
			r.Leave(s, protocol.LeftTooSlow)
		}
	}()
}

// setLocked records the lock and tells every member here.
func (r *Room) setLocked(locked bool) {
	r.mu.Lock()
	if r.dead {
		r.mu.Unlock()
		return
	}
	r.locked = locked
	var slow []*Member
	for _, o := range r.order {
		if !o.deliverLocked(protocol.Encode(protocol.State{Flags: r.stateLocked(o)})) {
			slow = append(slow, o)
		}
	}
	r.mu.Unlock()
	r.dropSlow(slow)
}

// eventQueue holds a room's events until its state is loaded, then hands
// them, and every later one, to the room in order.
type eventQueue struct {
	mu      sync.Mutex
	apply   func(from string, ev []byte) // nil until start
	pending []queued
}

type queued struct {
	from string
	ev   []byte
}

func (q *eventQueue) add(from string, ev []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.apply == nil {
		q.pending = append(q.pending, queued{from, ev})
		return
	}
	q.apply(from, ev)
}

func (q *eventQueue) start(apply func(from string, ev []byte)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.pending {
		apply(e.from, e.ev)
	}
	q.pending, q.apply = nil, apply
}

// tokenHash is what the cluster keeps of a resume token.
func tokenHash(t [protocol.TokenLen]byte) [32]byte { return sha256.Sum256(t[:]) }

// takeOver moves the session whose resume token is token from the node
// that held it (alive or dead) to this one, in the room's record, and
// returns it as a detached member of this node.
func (r *Room) takeOver(token [protocol.TokenLen]byte) (*Member, error) {
	th := tokenHash(token)
	var sm SharedMember
	rev, err := r.update(func(rec *Record) error {
		for i := range rec.Members {
			if subtle.ConstantTimeCompare(rec.Members[i].TokenHash[:], th[:]) == 1 {
				rec.Members[i].Node = r.g.shared.Node()
				sm = rec.Members[i]
				return nil
			}
		}
		return protocol.ErrSessionEnded
	})
	var rej *protocol.Reject
	switch {
	case errors.As(err, &rej):
		return nil, rej
	case errors.Is(err, ErrSharedNotFound):
		return nil, protocol.ErrNotFound
	case err != nil:
		return nil, protocol.ErrGoingAway
	}
	r.mu.Lock()
	delete(r.remote, sm.Session)
	r.mu.Unlock()
	return &Member{session: sm.Session, token: token, hello: sm.Hello, owner: sm.Owner, rev: rev}, nil
}

// nodeDied waits out the resume grace after a node fell silent, then ends,
// as dropped, the sessions that node still holds in any room: they had
// that long to resume on another node.
func (g *Registry) nodeDied(node string) {
	time.AfterFunc(g.limits.Grace, func() { g.sweep(node) })
}

// sweep removes dead's sessions from every room's record. One live node
// does it, the one with the least id, so the records are not written once
// per node; compare-and-set keeps two sweeps (nodes that disagree for a
// moment on who is alive) from harm.
func (g *Registry) sweep(dead string) {
	self := g.shared.Node()
	for _, p := range g.shared.Peers() {
		if p < self {
			return
		}
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rids, err := g.shared.Rooms(ctx)
	if err != nil {
		return // the next death, or the rooms' expiry, clears them
	}
	for _, rid := range rids {
		g.shared.Update(ctx, rid, func(rec *Record) error {
			var gone []uint32
			for _, m := range rec.Members {
				if m.Node == dead {
					gone = append(gone, m.Session)
				}
			}
			if len(gone) == 0 {
				return ErrUnchanged
			}
			for _, s := range gone {
				rec.depart(s, protocol.LeftDropped)
			}
			return nil
		})
	}
}
