// Package room is veil's room registry: creating rooms, admitting sessions
// with a join proof, membership, fan-out of opaque frames, expiry and purge.
// It keeps only what routing needs (room id, SHA-256 of the join value and of
// the owner key, deadline, policy, sealed meta, members' sealed hellos) and
// never anything it could decrypt. It knows nothing of HTTP or WebSockets:
// members are reached through the Conn a relay hands in.
package room

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"veil/internal/protocol"
)

// Conn is how a room reaches one member's socket.
type Conn interface {
	// Send queues frame without blocking; false means the queue is full.
	// The room never modifies frame after handing it over.
	Send(frame []byte) bool
	// SendChunk queues a file chunk of transfer tid without blocking. A
	// chunk that does not fit the member's bounded chunk queue is skipped
	// for that member alone (the Conn tells its peer); it never cuts the
	// member.
	SendChunk(frame []byte, tid uint32)
	// Close ends the socket with r. It must not block and is idempotent.
	Close(r *protocol.Reject)
}

// Limits bound what one registry holds.
type Limits struct {
	MaxRooms   int
	MaxMembers int
	MaxTTL     time.Duration
	MinTTL     time.Duration // shortest lifetime; tests lower it
	Grace      time.Duration // how long a dropped session may resume
	RoomRate   int           // file chunk bytes per second one room may send
	MaxFile    int64         // largest file, in bytes, one transfer may carry
	JoinRate   float64       // joins per minute one room admits, after JoinBurst
	JoinBurst  int
}

// DefaultLimits are the limits of docs/protocol.md section 6.
var DefaultLimits = Limits{MaxRooms: 10_000, MaxMembers: 100, MaxTTL: 24 * time.Hour, MinTTL: MinTTL, Grace: 15 * time.Second,
	RoomRate: 8 << 20, MaxFile: 100 << 20, JoinRate: 60, JoinBurst: 60}

// MinTTL is the default shortest room lifetime.
const MinTTL = 10 * time.Second

// Errors returned by Create.
var (
	ErrExists   = errors.New("room: exists")
	ErrCapacity = errors.New("room: server holds its maximum number of rooms")
	ErrTTL      = errors.New("room: lifetime too short")
	// ErrUnavailable: the cluster did not take the room (NATS down, or
	// its memory full); the cause is not shown, as it may name the room.
	ErrUnavailable = errors.New("room: the cluster cannot take a room now")
)

// Spec is what a creator registers.
type Spec struct {
	RID       protocol.RID
	Verifier  [32]byte // SHA-256(join)
	OwnerHash [32]byte // SHA-256(owner key)
	TTL       time.Duration
	Policy    byte
	Meta      []byte
}

// Registry holds the rooms of one process.
type Registry struct {
	limits    Limits // set at construction
	shared    Shared // nil: one node
	stopWatch context.CancelFunc
	watchErr  error
	loadMu    sync.Mutex // one room loads from the cluster at a time

	mu     sync.Mutex // guards rooms and closed
	rooms  map[protocol.RID]*Room
	closed bool
}

// NewRegistry returns an empty registry.
func NewRegistry(l Limits) *Registry {
	if l.MaxRooms <= 0 {
		l.MaxRooms = DefaultLimits.MaxRooms
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultLimits.MaxMembers
	}
	l.MaxMembers = min(l.MaxMembers, protocol.MaxMembers)
	if l.MaxTTL <= 0 {
		l.MaxTTL = DefaultLimits.MaxTTL
	}
	if l.MinTTL <= 0 {
		l.MinTTL = DefaultLimits.MinTTL
	}
	if l.Grace <= 0 {
		l.Grace = DefaultLimits.Grace
	}
	if l.RoomRate <= 0 {
		l.RoomRate = DefaultLimits.RoomRate
	}
	if l.MaxFile <= 0 {
		l.MaxFile = DefaultLimits.MaxFile
	}
	if l.JoinRate <= 0 {
		l.JoinRate = DefaultLimits.JoinRate
	}
	if l.JoinBurst <= 0 {
		l.JoinBurst = DefaultLimits.JoinBurst
	}
	return &Registry{limits: l, rooms: make(map[protocol.RID]*Room)}
}

// NewClusterRegistry returns a registry that shares its rooms with the
// other nodes of a cluster through s.
func NewClusterRegistry(l Limits, s Shared) *Registry {
	g := NewRegistry(l)
	g.shared = s
	if s != nil {
		ctx, cancel := context.WithCancel(context.Background())
		g.stopWatch = cancel
		if err := s.Watch(ctx, g.onRecord); err != nil {
			cancel()
			g.watchErr = err
		}
		s.OnNodeDeath(g.nodeDied)
	}
	return g
}

// Clustered reports whether the registry shares its rooms with other nodes.
func (g *Registry) Clustered() bool { return g.shared != nil }

// Err reports why the registry cannot follow the cluster, if it cannot.
func (g *Registry) Err() error { return g.watchErr }

// Limits returns the registry's limits.
func (g *Registry) Limits() Limits { return g.limits }

// Len returns the number of live rooms.
func (g *Registry) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.rooms)
}

// Create registers a room. A TTL above the maximum is lowered to it; the
// returned room reports the lifetime given.
func (g *Registry) Create(s Spec) (*Room, error) {
	if s.TTL < g.limits.MinTTL {
		return nil, ErrTTL
	}
	s.TTL = min(s.TTL, g.limits.MaxTTL)
	if g.shared != nil {
		// The room lives in the cluster; a node builds its own copy when a
		// member joins through it.
		deadline := time.Now().Add(s.TTL)
		ctx, cancel := sharedCtx()
		defer cancel()
		if err := g.shared.Create(ctx, s.RID, s.record(deadline, s.TTL)); err != nil {
			if errors.Is(err, ErrSharedExists) {
				return nil, ErrExists
			}
			return nil, ErrUnavailable
		}
		return &Room{g: g, rid: s.RID, ttl: s.TTL, deadline: deadline}, nil
	}
	r := g.newRoom(s, time.Now().Add(s.TTL))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrCapacity
	}
	if _, ok := g.rooms[s.RID]; ok {
		return nil, ErrExists
	}
	if len(g.rooms) >= g.limits.MaxRooms {
		return nil, ErrCapacity
	}
	g.rooms[s.RID] = r
	r.mu.Lock()
	r.timer = time.AfterFunc(s.TTL, func() { r.end(protocol.ErrExpired) })
	r.mu.Unlock()
	return r, nil
}

// newRoom builds a room's local state.
func (g *Registry) newRoom(s Spec, deadline time.Time) *Room {
	return &Room{
		g:        g,
		rid:      s.RID,
		verifier: s.Verifier,
		owner:    s.OwnerHash,
		policy:   s.Policy,
		meta:     append([]byte(nil), s.Meta...),
		ttl:      s.TTL,
		deadline: deadline,
		guesses:  rate.NewLimiter(rate.Every(6*time.Second), 10),
		joins:    rate.NewLimiter(rate.Limit(g.limits.JoinRate/60), g.limits.JoinBurst),
		// The burst stays well under a member's chunk queue (2 MiB), so a
		// member who reads at the room's pace is never skipped.
		chunks:  rate.NewLimiter(rate.Limit(g.limits.RoomRate), min(max(g.limits.RoomRate/16, protocol.MaxFrame), 512<<10)),
		members: make(map[uint32]*Member),
		remote:  make(map[uint32]*remoteMember),
	}
}

// load returns this node's copy of room rid, building it from the cluster's
// record the first time a member comes through this node; nil if there is
// no such room.
func (g *Registry) load(rid protocol.RID) (*Room, error) {
	if r := g.Get(rid); r != nil || g.shared == nil {
		return r, nil
	}
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	if r := g.Get(rid); r != nil {
		return r, nil // loaded while this one waited
	}
	// Events are held from before the record is read until it is applied,
	// then replayed in order: whatever changed in between is neither lost
	// nor undone by the older record.
	q := &eventQueue{}
	stop, err := g.shared.Subscribe(rid, q.add)
	if err != nil {
		return nil, err
	}
	ctx, cancel := sharedCtx()
	defer cancel()
	rec, rev, err := g.shared.Load(ctx, rid)
	left := time.Until(rec.Deadline)
	if errors.Is(err, ErrSharedNotFound) || err == nil && left <= 0 {
		stop()
		return nil, nil
	}
	if err != nil {
		stop()
		return nil, err
	}
	r := g.newRoom(Spec{RID: rid, Verifier: rec.Verifier, OwnerHash: rec.OwnerHash, TTL: rec.TTL, Policy: rec.Policy, Meta: rec.Meta}, rec.Deadline)
	r.locked, r.rev = rec.Locked, rev
	for _, m := range rec.Members {
		r.remote[m.Session] = &remoteMember{node: m.Node, hello: m.Hello, owner: m.Owner, recorded: true}
	}
	g.mu.Lock()
	if have := g.rooms[rid]; have != nil {
		g.mu.Unlock()
		stop()
		return have, nil // another member got here first
	}
	if g.closed || len(g.rooms) >= g.limits.MaxRooms {
		g.mu.Unlock()
		stop()
		return nil, ErrCapacity
	}
	r.unsub = stop
	g.rooms[rid] = r
	r.mu.Lock()
	r.timer = time.AfterFunc(left, func() { r.end(protocol.ErrExpired) })
	r.mu.Unlock()
	g.mu.Unlock()
	q.start(r.onEvent)
	// The watcher reaches the room from now on; what changed between the
	// first read and now is in a second one.
	if rec, rev, err := g.shared.Load(ctx, rid); err == nil {
		r.apply(&rec, rev)
	} else if errors.Is(err, ErrSharedNotFound) {
		r.apply(nil, 0)
	}
	return r, nil
}

// onRecord hands a change of a room's record to this node's copy, if any.
func (g *Registry) onRecord(rid protocol.RID, rec *Record, rev uint64) {
	if r := g.Get(rid); r != nil {
		r.apply(rec, rev)
	}
}

// Get returns the live room rid, or nil.
func (g *Registry) Get(rid protocol.RID) *Room {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rooms[rid]
}

// Close ends every room with r (a server going away) and refuses new ones.
func (g *Registry) Close(r *protocol.Reject) {
	if g.stopWatch != nil {
		g.stopWatch()
	}
	g.mu.Lock()
	g.closed = true
	rooms := make([]*Room, 0, len(g.rooms))
	for _, rm := range g.rooms {
		rooms = append(rooms, rm)
	}
	g.mu.Unlock()
	for _, rm := range rooms {
		rm.end(r)
	}
}

func (g *Registry) remove(r *Room) {
	g.mu.Lock()
	if g.rooms[r.rid] == r {
		delete(g.rooms, r.rid)
	}
	g.mu.Unlock()
}

// Room is one live room.
type Room struct {
	// set at construction
	g        *Registry
	rid      protocol.RID
	verifier [32]byte
	owner    [32]byte
	policy   byte
	meta     []byte
	ttl      time.Duration
	deadline time.Time
	guesses  *rate.Limiter
	joins    *rate.Limiter // admitted joins, against raids
	chunks   *rate.Limiter // file chunk bytes per second
	timer    *time.Timer

	mu      sync.RWMutex // guards the fields below
	members map[uint32]*Member
	order   []*Member // join order
	dead    bool
	locked  bool                     // new joins are refused
	remote  map[uint32]*remoteMember // members on other nodes (cluster)
	unsub   func()                   // ends the cluster subscription
	rev     uint64                   // revision of the cluster record applied last
}

// Member is one session in a room.
type Member struct {
	session uint32 // set at construction
	token   [protocol.TokenLen]byte

	// guarded by the room's mu
	conn  Conn   // nil while detached
	lost  Conn   // the socket it was detached from, until it resumes
	hello []byte // latest hello envelope frame body
	grace *time.Timer
	owner bool // proved the owner key
	// rev is the revision of the cluster record that put the session on
	// this node: an older record, still on its way, does not know it.
	rev uint64

	pendMu  sync.Mutex // guards pending, which fan-out fills under a read lock
	pending [][]byte   // frames that arrived while detached, handed over on resume
	pendLen int
}

// Bounds on what a detached member's frames may hold while it can resume.
const (
	maxPendingFrames = 128
	maxPendingBytes  = 1 << 20
)

// hold keeps frame for a detached member, within the bounds; past them the
// frame is lost (the member's client sees a gap).
func (m *Member) hold(frame []byte) {
	m.pendMu.Lock()
	defer m.pendMu.Unlock()
	if len(m.pending) < maxPendingFrames && m.pendLen+len(frame) <= maxPendingBytes {
		m.pending = append(m.pending, frame)
		m.pendLen += len(frame)
	}
}

// deliverLocked queues frame on m's socket, or holds it while m is
// detached; false means m's queue was full. The room's lock is held.
func (m *Member) deliverLocked(frame []byte) bool {
	if m.conn == nil {
		m.hold(frame)
		return true
	}
	return m.conn.Send(frame)
}

// takePending returns and forgets the held frames.
func (m *Member) takePending() [][]byte {
	m.pendMu.Lock()
	defer m.pendMu.Unlock()
	p := m.pending
	m.pending, m.pendLen = nil, 0
	return p
}

// Session returns the member's session id.
func (m *Member) Session() uint32 { return m.session }

// TTL returns the lifetime the room was given.
func (r *Room) TTL() time.Duration { return r.ttl }

// Remaining returns the room's remaining life.
func (r *Room) Remaining() time.Duration { return max(time.Until(r.deadline), 0) }

// RID returns the room id.
func (r *Room) RID() protocol.RID { return r.rid }

// Join admits a new session presenting join, attached to c. On success the
// caller must send the returned WELCOME frame before anything else is queued:
// Join queues it on c itself, so ordering holds.
func (g *Registry) Join(rid protocol.RID, join [32]byte, c Conn) (*Room, *Member, error) {
	r, err := g.load(rid)
	if err != nil {
		return nil, nil, protocol.ErrGoingAway
	}
	if r == nil {
		return nil, nil, protocol.ErrNotFound
	}
	// While the room is out of guesses every JOIN gets the same answer,
	// right or wrong, so a guesser learns nothing from it.
	if r.guesses.Tokens() < 1 {
		return nil, nil, protocol.ErrTooMany
	}
	sum := sha256.Sum256(join[:])
	if subtle.ConstantTimeCompare(sum[:], r.verifier[:]) != 1 {
		if !r.guesses.Allow() {
			return nil, nil, protocol.ErrTooMany
		}
		return nil, nil, protocol.ErrWrongPassword
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return nil, nil, protocol.ErrNotFound
	}
	if r.locked && g.shared == nil { // in a cluster the record decides, below
		return nil, nil, protocol.ErrLocked
	}
	if len(r.members)+len(r.remote) >= r.g.limits.MaxMembers {
		return nil, nil, protocol.ErrRoomFull
	}
	if !r.joins.Allow() {
		return nil, nil, protocol.ErrTooManyJoins
	}
	m := &Member{conn: c}
	rand.Read(m.token[:])
	taken := func(s uint32) bool { return s == 0 || r.members[s] != nil || r.remote[s] != nil }
	if g.shared != nil {
		// The cluster's record decides: lock, size, and a session id no
		// other node has given. The room is not held meanwhile.
		r.mu.Unlock()
		rev, err := r.update(func(rec *Record) error {
			if rec.Locked {
				return protocol.ErrLocked
			}
			if len(rec.Members) >= r.g.limits.MaxMembers {
				return protocol.ErrRoomFull
			}
			if sm := rec.member(m.session); sm != nil && sm.TokenHash == tokenHash(m.token) {
				return ErrUnchanged // an earlier try landed
			}
			m.session = randomSession(func(s uint32) bool { return rec.member(s) != nil })
			rec.Members = append(rec.Members, SharedMember{Session: m.session, TokenHash: tokenHash(m.token), Node: g.shared.Node()})
			return nil
		})
		r.mu.Lock()
		var rej *protocol.Reject
		switch {
		case errors.As(err, &rej):
			return nil, nil, rej
		case errors.Is(err, ErrSharedNotFound) || err == nil && r.dead:
			return nil, nil, protocol.ErrNotFound
		case err != nil:
			return nil, nil, protocol.ErrGoingAway
		}
		m.rev = rev
		delete(r.remote, m.session) // if a record told of it already
	} else {
		m.session = randomSession(taken)
	}
	r.members[m.session] = m
	r.order = append(r.order, m)
	c.Send(r.welcomeLocked(m))
	return r, m, nil
}

// randomSession returns a random session id that taken says is free.
func randomSession(taken func(uint32) bool) uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		if s := binary.BigEndian.Uint32(b[:]); s != 0 && !taken(s) {
			return s
		}
	}
}

// Resume reattaches a dropped session by its token to c. A session that is
// still attached is taken over: its old socket is closed.
func (g *Registry) Resume(rid protocol.RID, token [32]byte, c Conn) (*Room, *Member, error) {
	r, err := g.load(rid)
	if err != nil {
		return nil, nil, protocol.ErrGoingAway
	}
	if r == nil {
		return nil, nil, protocol.ErrNotFound
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return nil, nil, protocol.ErrNotFound
	}
	var found *Member
	for _, m := range r.order {
		if subtle.ConstantTimeCompare(m.token[:], token[:]) == 1 {
			found = m
		}
	}
	if found == nil && g.shared != nil {
		// The session may be on another node, or on one that died: take
		// it over here.
		r.mu.Unlock()
		found, err = r.takeOver(token)
		r.mu.Lock()
		if err != nil {
			return nil, nil, err
		}
		if r.dead {
			return nil, nil, protocol.ErrNotFound
		}
		if r.members[found.session] == nil {
			r.members[found.session] = found
			r.order = append(r.order, found)
		}
		found = r.members[found.session]
	}
	if found == nil {
		return nil, nil, protocol.ErrSessionEnded
	}
	if found.grace != nil {
		found.grace.Stop()
		found.grace = nil
	}
	if old := found.conn; old != nil {
		old.Close(protocol.ErrSessionEnded)
	}
	found.conn, found.lost = c, nil
	c.Send(r.welcomeLocked(found))
	if st := r.stateLocked(found); st != 0 {
		c.Send(protocol.Encode(protocol.State{Flags: st}))
	}
	// What arrived while the socket was down follows the WELCOME, in order.
	for _, f := range found.takePending() {
		c.Send(f)
	}
	return r, found, nil
}

func (r *Room) welcomeLocked(self *Member) []byte {
	w := protocol.Welcome{
		Session:     self.session,
		Token:       self.token,
		RemainingMS: uint64(r.Remaining() / time.Millisecond),
		Policy:      r.policy,
		Meta:        r.meta,
	}
	for _, m := range r.order {
		if m.hello != nil && m != self {
			w.Members = append(w.Members, protocol.Member{Session: m.session, Hello: m.hello})
		}
	}
	for s, m := range r.remote {
		if m.hello != nil {
			w.Members = append(w.Members, protocol.Member{Session: s, Hello: m.hello})
		}
	}
	return protocol.Encode(w)
}

// Envelope routes an envelope frame from m. The caller has checked the
// header against the room and the sender. It returns a rejection only for a
// direct message to a session that is not here.
func (r *Room) Envelope(m *Member, f protocol.Envelope) *protocol.Error {
	if f.Header.Kind == protocol.KindHello && len(f.Raw)-1 > protocol.MaxHello {
		return &protocol.Error{Code: protocol.CloseBadEnvelope, Reason: "hello too large"}
	}
	var slow []*Member
	// A hello writes m.hello and so takes the write lock; fan-out only reads.
	lock, unlock := r.mu.RLock, r.mu.RUnlock
	if f.Header.Kind == protocol.KindHello {
		lock, unlock = r.mu.Lock, r.mu.Unlock
	}
	lock()
	if r.dead || r.members[m.session] != m {
		unlock()
		return nil
	}
	switch f.Header.Kind {
	case protocol.KindHello:
		m.hello = f.Body()
		slow = r.fanoutLocked(m, f.Raw)
	case protocol.KindMsg:
		slow = r.fanoutLocked(m, f.Raw)
	case protocol.KindReport:
		sent := false
		for _, o := range r.remote {
			sent = sent || o.owner
		}
		for _, o := range r.order {
			if o == m || !o.owner {
				continue
			}
			sent = true
			if !o.deliverLocked(f.Raw) {
				slow = append(slow, o)
			}
		}
		if !sent && !(r.g.shared != nil && r.ownerElsewhere()) {
			unlock()
			return &protocol.Error{Code: protocol.CodeNoOwner, Reason: "the owner is not in the room"}
		}
	case protocol.KindChunk:
		if f.Header.To == 0 {
			for _, o := range r.order {
				switch {
				case o == m:
				case o.conn == nil:
					o.hold(f.Raw)
				default:
					o.conn.SendChunk(f.Raw, f.Header.Epoch)
				}
			}
			break
		}
		to := r.members[f.Header.To]
		switch {
		case to == nil && r.remote[f.Header.To] != nil: // on another node
		case to == nil || to == m:
			unlock()
			return &protocol.Error{Code: protocol.CloseNotFound, Reason: "recipient is not in the room"}
		case to.conn == nil:
			to.hold(f.Raw)
		default:
			to.conn.SendChunk(f.Raw, f.Header.Epoch)
		}
	case protocol.KindDM, protocol.KindSenderKey, protocol.KindHandshake:
		to := r.members[f.Header.To]
		if to == nil && r.remote[f.Header.To] != nil {
			break // on another node
		}
		if to == nil || to == m {
			unlock()
			return &protocol.Error{Code: protocol.CloseNotFound, Reason: "recipient is not in the room"}
		}
		if !to.deliverLocked(f.Raw) {
			slow = append(slow, to)
		}
	}
	// Always, in a cluster: this node may not have heard yet of a member
	// that joined elsewhere a moment ago.
	shared := r.g.shared != nil
	unlock()
	if shared {
		if f.Header.Kind == protocol.KindHello {
			// The record first: a node that loads the room after this
			// event went out must find the hello there.
			hello := f.Body()
			r.update(func(rec *Record) error {
				if sm := rec.member(m.session); sm != nil {
					sm.Hello = hello
				}
				return nil
			})
		}
		r.publish(append([]byte{evEnvelope}, f.Raw...))
	}
	for _, s := range slow {
		r.Leave(s, protocol.LeftTooSlow)
	}
	return nil
}

// fanoutLocked queues frame for every attached member but from and returns
// those whose queue was full.
func (r *Room) fanoutLocked(from *Member, frame []byte) (slow []*Member) {
	for _, m := range r.order {
		if m == from {
			continue
		}
		if !m.deliverLocked(frame) {
			slow = append(slow, m)
		}
	}
	return slow
}

// Leave ends m's session now and tells the others why.
func (r *Room) Leave(m *Member, reason byte) {
	var conn Conn
	r.mu.Lock()
	if r.dead || r.members[m.session] != m {
		r.mu.Unlock()
		return
	}
	conn = m.conn
	r.removeLocked(m)
	slow := r.fanoutLocked(nil, protocol.Encode(protocol.Left{Session: m.session, Reason: reason}))
	r.mu.Unlock()
	if r.g.shared != nil {
		r.update(func(rec *Record) error { rec.depart(m.session, reason); return nil })
	}
	if conn != nil {
		switch reason {
		case protocol.LeftTooSlow:
			conn.Close(protocol.ErrTooSlow)
		case protocol.LeftLoggedOut:
			conn.Close(protocol.ErrLoggedOut)
		case protocol.LeftRemoved:
			conn.Close(protocol.ErrRemoved)
		case protocol.LeftIdle:
			conn.Close(protocol.ErrIdle)
		}
	}
	for _, s := range slow {
		r.Leave(s, protocol.LeftTooSlow)
	}
}

func (r *Room) removeLocked(m *Member) {
	delete(r.members, m.session)
	for i, o := range r.order {
		if o == m {
			r.order = append(r.order[:i:i], r.order[i+1:]...)
			break
		}
	}
	if m.grace != nil {
		m.grace.Stop()
		m.grace = nil
	}
	m.conn, m.lost = nil, nil
	m.hello = nil
	m.takePending()
}

// Detach marks m's socket c as gone without a goodbye. The session may be
// resumed within the grace period; after it the others are told it dropped.
func (r *Room) Detach(m *Member, c Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || r.members[m.session] != m || m.conn != c {
		return
	}
	r.detachLocked(m)
}

func (r *Room) detachLocked(m *Member) {
	m.lost, m.conn = m.conn, nil
	m.grace = time.AfterFunc(r.g.limits.Grace, func() {
		r.mu.RLock()
		still := m.conn == nil
		r.mu.RUnlock()
		if still {
			r.Leave(m, protocol.LeftDropped)
		}
	})
}

// Drop detaches m after a write to its socket c failed. unsent, called with
// the room locked (so no fan-out is under way), returns the frames c had
// not written, in order; they are held ahead of anything that follows.
func (r *Room) Drop(m *Member, c Conn, unsent func() [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || r.members[m.session] != m || m.conn != c {
		return
	}
	for _, f := range unsent() {
		m.hold(f)
	}
	r.detachLocked(m)
}

// Disconnect handles c closing cleanly (a closed tab): m leaves at once,
// unless m has since resumed on another socket. A write that failed while
// the peer's close frame was on its way may have detached m from c already;
// the clean close still means m has left.
func (r *Room) Disconnect(m *Member, c Conn) {
	r.mu.RLock()
	current := m.conn == c || (m.conn == nil && m.lost == c)
	r.mu.RUnlock()
	if current {
		r.Leave(m, protocol.LeftClosed)
	}
}

// stateLocked returns the STATE flags member m should see.
func (r *Room) stateLocked(m *Member) byte {
	var f byte
	if r.locked {
		f |= protocol.StateLocked
	}
	if m.owner {
		f |= protocol.StateOwner
	}
	return f
}

func (r *Room) ownerKey(key *[32]byte) bool {
	sum := sha256.Sum256(key[:])
	return subtle.ConstantTimeCompare(sum[:], r.owner[:]) == 1
}

var errNotOwner = &protocol.Error{Code: protocol.CodeNotAllowed, Reason: "only the owner may do that"}

// Claim makes m an owner session if key is the room's owner key, and tells
// m so with a STATE frame.
func (r *Room) Claim(m *Member, key *[32]byte) *protocol.Error {
	if !r.ownerKey(key) {
		return &protocol.Error{Code: protocol.CodeNotAllowed, Reason: "wrong owner key"}
	}
	if r.g.shared != nil {
		// The record first: other nodes route reports by it, and a resume
		// on another node keeps the badge. Once the claimer sees its
		// STATE, any node that reads the record finds the owner.
		r.update(func(rec *Record) error {
			if sm := rec.member(m.session); sm != nil && !sm.Owner {
				sm.Owner = true
				return nil
			}
			return ErrUnchanged
		})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || r.members[m.session] != m {
		return nil
	}
	m.owner = true
	m.deliverLocked(protocol.Encode(protocol.State{Flags: r.stateLocked(m)}))
	return nil
}

// Kick removes session from the room on behalf of owner session m.
func (r *Room) Kick(m *Member, session uint32) *protocol.Error {
	r.mu.RLock()
	owner := m.owner && r.members[m.session] == m
	target := r.members[session]
	elsewhere := r.remote[session] != nil
	r.mu.RUnlock()
	if !owner {
		return errNotOwner
	}
	if elsewhere {
		// The node it is on removes it, and says so to everyone.
		_, err := r.update(func(rec *Record) error {
			rec.Kick = append(rec.Kick, session)
			return nil
		})
		if err != nil {
			return &protocol.Error{Code: protocol.CodeNoMember, Reason: "no such member"}
		}
		return nil
	}
	if target == nil || target == m {
		return &protocol.Error{Code: protocol.CodeNoMember, Reason: "no such member"}
	}
	r.Leave(target, protocol.LeftRemoved)
	return nil
}

// Lock locks or unlocks the room to new joins on behalf of owner session m
// and tells every member.
func (r *Room) Lock(m *Member, locked bool) *protocol.Error {
	r.mu.Lock()
	if r.dead || r.members[m.session] != m {
		r.mu.Unlock()
		return nil
	}
	if !m.owner {
		r.mu.Unlock()
		return errNotOwner
	}
	r.mu.Unlock()
	if r.g.shared != nil {
		// The record decides for joins on every node.
		// Every node, this one too, applies it from the record.
		if _, err := r.update(func(rec *Record) error { rec.Locked = locked; return nil }); err != nil {
			return &protocol.Error{Code: protocol.CodeNotAllowed, Reason: "the lock could not be set; try again"}
		}
		return nil
	}
	r.setLocked(locked)
	return nil
}

// Locked reports whether the room refuses new joins.
func (r *Room) Locked() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.locked
}

// Purge ends the room on m's request if m may: anyone under PolicyAnyone,
// and an owner session or whoever gives the owner key always. m may be nil
// (the server itself).
func (r *Room) Purge(m *Member, owner *[32]byte) *protocol.Error {
	allowed := r.policy == protocol.PolicyAnyone
	if m != nil {
		r.mu.RLock()
		allowed = allowed || m.owner
		r.mu.RUnlock()
	}
	if owner != nil {
		if r.ownerKey(owner) {
			allowed = true
		} else if !allowed {
			return &protocol.Error{Code: protocol.CodeNotAllowed, Reason: "wrong owner key"}
		}
	}
	if !allowed {
		return &protocol.Error{Code: protocol.CodeNotAllowed, Reason: "only the owner may purge this room"}
	}
	if r.g.shared != nil {
		ctx, cancel := sharedCtx()
		err := r.g.shared.Delete(ctx, r.rid)
		cancel()
		if err != nil {
			return &protocol.Error{Code: protocol.CodeNotAllowed, Reason: "the room could not be purged; try again"}
		}
	}
	r.end(protocol.ErrPurged)
	return nil
}

// end forgets the room and closes every member's socket with why. It runs
// once.
func (r *Room) end(why *protocol.Reject) {
	r.mu.Lock()
	if r.dead {
		r.mu.Unlock()
		return
	}
	r.dead = true
	r.timer.Stop()
	if r.unsub != nil {
		r.unsub()
	}
	conns := make([]Conn, 0, len(r.order))
	for _, m := range r.order {
		if m.grace != nil {
			m.grace.Stop()
		}
		if m.conn != nil {
			conns = append(conns, m.conn)
		}
	}
	r.members, r.order = nil, nil
	r.mu.Unlock()
	r.g.remove(r)
	for _, c := range conns {
		c.Close(why)
	}
}

// PaceChunk waits until the room may carry n more bytes of file chunks. The
// caller is the sender's read loop, so only the sender is slowed (TCP
// pushes back on it); fan-out to everyone else goes on.
func (r *Room) PaceChunk(ctx context.Context, n int) error { return r.chunks.WaitN(ctx, n) }

// MaxFile is the largest transfer, in bytes, the room accepts.
func (r *Room) MaxFile() int64 { return r.g.limits.MaxFile }

// Attached reports whether session is in the room with a live socket.
func (r *Room) Attached(session uint32) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.members[session]
	return m != nil && m.conn != nil
}

// Members returns the number of sessions in the room, on every node.
func (r *Room) Members() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members) + len(r.remote)
}
