package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"veil/internal/client"
	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// Timing of a room's notices (docs/p2p.md).
const (
	aliveEvery = 2 * time.Second  // a member says it is here
	dropAfter  = 9 * time.Second  // a member not heard for this long has left
	holdFor    = 10 * time.Second // an envelope waits this long for its sender's hello or key
	freshFor   = 2 * time.Minute  // a notice whose clock is further off is refused
	linger     = 500 * time.Millisecond
)

// Bounds on what a peer keeps for others.
const (
	holdPerSender = 64
	holdTotal     = 1024
)

// Options configure a peer.
type Options struct {
	// Listen are multiaddrs to listen on; none means every interface, on a
	// port the system picks.
	Listen []string
	// Bootstrap are peers to start from, besides the link's.
	Bootstrap []peer.AddrInfo
	// NoMDNS leaves out discovery on the LAN.
	NoMDNS bool
	// Wait is how long Join looks for the room's members before it joins
	// (it returns as soon as one answers); 0 joins at once, as the room's
	// first peer does.
	Wait time.Duration
}

// Room is one peer's part in a p2p room. It stands in for the relay: the
// client writes frames to it and reads frames from it (client.Conn), and
// it carries them over the room's topic.
type Room struct {
	link  Link
	keys  e2ee.Keys
	id    e2ee.Identity
	node  *Node
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	self  peer.ID
	stop  context.CancelFunc
	pace  *rate.Limiter
	in    chan []byte   // frames from the topic, for the client
	wake  chan struct{} // a frame was put in replies
	done  chan struct{} // the room ended for this peer
	shut  sync.Once

	mu       sync.Mutex
	session  uint32
	hello    []byte // our client's latest hello
	replies  [][]byte
	members  map[uint32]*peerMember
	order    []uint32
	held     map[uint32][]heldEnv
	nheld    int
	asked    map[[2]uint32]time.Time // (member, epoch): when we last asked for its key
	answered map[uint32]time.Time    // member: when we last resent our key on its request
	told     time.Time               // when we last said we are here
	ended    *client.CloseError
	over     bool // the room ended for this peer
	rekey    func(uint32)
}

type peerMember struct {
	ed    ed25519.PublicKey
	x     []byte
	hello []byte
	seq   uint64    // the control counter of its newest hello
	alive uint64    // the clock of its newest alive notice
	seen  time.Time // when it was last heard from
	keyed uint32    // the newest epoch whose sender key to us went to the client
}

type heldEnv struct {
	env []byte
	at  time.Time
}

// Join joins the room of l as a peer and returns the session, which then
// works as one joined through a relay. cfg.Link, Connect and Reconnect
// are set here.
func Join(ctx context.Context, l Link, o Options, cfg client.Config) (*client.Client, *Room, error) {
	if !time.Now().Before(l.Ends) {
		return nil, nil, &client.CloseError{Code: protocol.CloseExpired, Reason: "room expired"}
	}
	var r *Room
	cfg.Link = l.Room.String()
	cfg.Reconnect = false
	cfg.Connect = func(ctx context.Context, k e2ee.Keys, id e2ee.Identity) (client.Conn, error) {
		var err error
		r, err = open(ctx, l, o, k, id)
		return r, err
	}
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		if r != nil {
			r.CloseNow()
		}
		return nil, nil, err
	}
	r.mu.Lock()
	r.rekey = func(s uint32) { c.ResendKey(context.Background(), s) }
	r.mu.Unlock()
	return c, r, nil
}

// open starts the host, joins the topic and, for o.Wait, looks for the
// room's members.
func open(ctx context.Context, l Link, o Options, k e2ee.Keys, id e2ee.Identity) (*Room, error) {
	boot := append(append([]peer.AddrInfo{}, l.Peers...), o.Bootstrap...)
	n, err := New(ctx, Config{Listen: o.Listen, Bootstrap: boot, MDNS: !o.NoMDNS, MDNSName: l.mdnsName()})
	if err != nil {
		return nil, err
	}
	r := &Room{link: l, keys: k, id: id, node: n, self: n.Host.ID(),
		pace: rate.NewLimiter(4<<20, 1<<20), in: make(chan []byte, 4096), wake: make(chan struct{}, 1),
		done: make(chan struct{}), members: map[uint32]*peerMember{}, held: map[uint32][]heldEnv{},
		asked: map[[2]uint32]time.Time{}, answered: map[uint32]time.Time{}}
	name := l.Topic()
	if err := n.PS.RegisterTopicValidator(name, r.validate); err != nil {
		n.Close()
		return nil, fmt.Errorf("p2p topic: %w", err)
	}
	if r.topic, err = n.PS.Join(name); err == nil {
		r.sub, err = r.topic.Subscribe(pubsub.WithBufferSize(1024))
	}
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("p2p topic: %w", err)
	}
	events, err := r.topic.EventHandler()
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("p2p topic: %w", err)
	}
	rctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.readTopic(rctx)
	go r.tick(rctx)
	go r.discover(rctx, name)
	go r.greet(rctx, events)
	if o.Wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, o.Wait)
		defer cancel()
		for r.Members() == 0 && wctx.Err() == nil {
			select {
			case <-wctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			r.CloseNow()
			return nil, ctx.Err()
		}
	}
	return r, nil
}

// Members returns how many other members this peer knows.
func (r *Room) Members() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// Addrs returns this peer's addresses, as a link lists them.
func (r *Room) Addrs() peer.AddrInfo {
	return peer.AddrInfo{ID: r.node.Host.ID(), Addrs: r.node.Host.Addrs()}
}

// Node returns the peer's host.
func (r *Room) Node() *Node { return r.node }

// Done is closed when the room ends for this peer.
func (r *Room) Done() <-chan struct{} { return r.done }

// Read returns the next frame for the client.
func (r *Room) Read(ctx context.Context) ([]byte, error) {
	for {
		r.mu.Lock()
		if len(r.replies) > 0 {
			b := r.replies[0]
			r.replies = r.replies[1:]
			r.mu.Unlock()
			return b, nil
		}
		r.mu.Unlock()
		select {
		case b := <-r.in:
			return b, nil
		default:
		}
		select {
		case b := <-r.in:
			return b, nil
		case <-r.wake:
		case <-r.done:
			r.mu.Lock()
			pending := len(r.replies) > 0
			r.mu.Unlock()
			if !pending && len(r.in) == 0 {
				return nil, r.endErr()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (r *Room) endErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended == nil {
		return &client.CloseError{Code: protocol.CloseNormal, Reason: "closed"}
	}
	return r.ended
}

// reply queues a frame for the client that answers one it wrote.
func (r *Room) reply(f protocol.Frame) {
	r.mu.Lock()
	r.replies = append(r.replies, protocol.Encode(f))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Write takes a frame from the client, as a relay would.
func (r *Room) Write(ctx context.Context, frame []byte) error {
	select {
	case <-r.done:
		return r.endErr()
	default:
	}
	f, err := protocol.Decode(frame)
	if err != nil {
		return fmt.Errorf("p2p: %w", err)
	}
	switch f := f.(type) {
	case protocol.Join:
		return r.join(f)
	case protocol.Envelope:
		return r.envelopeOut(ctx, f)
	case protocol.Logout:
		r.say(ctx, notice{Kind: msgBye, Arg: uint32(protocol.LeftLoggedOut)}, r.id.Ed)
		r.end(&client.CloseError{Code: protocol.CloseNormal, Reason: "logged out"}, linger)
	case protocol.Purge:
		return r.purge(ctx, f)
	case protocol.Active:
	case protocol.Owner, protocol.Kick, protocol.Lock:
		r.reply(protocol.Error{Code: protocol.CodeNotAllowed, Reason: "a peer-to-peer room has no owner powers but purge: no server is there to enforce them"})
	default:
		return fmt.Errorf("p2p: %T is not sent in a peer-to-peer room", f)
	}
	return nil
}

// join answers JOIN with a WELCOME that lists the members heard so far.
func (r *Room) join(j protocol.Join) error {
	if j.RID != r.keys.RID {
		return errors.New("p2p: JOIN for another room")
	}
	r.mu.Lock()
	if r.session != 0 {
		r.mu.Unlock()
		return errors.New("p2p: joined already")
	}
	for r.session == 0 || r.members[r.session] != nil {
		var b [4]byte
		rand.Read(b[:])
		r.session = binary.BigEndian.Uint32(b[:])
	}
	w := protocol.Welcome{Session: r.session, Policy: r.link.Policy,
		RemainingMS: uint64(max(time.Until(r.link.Ends), 0) / time.Millisecond)}
	rand.Read(w.Token[:])
	for _, s := range r.order {
		if len(w.Members) == protocol.MaxMembers-1 {
			break
		}
		w.Members = append(w.Members, protocol.Member{Session: s, Hello: r.members[s].hello})
	}
	r.mu.Unlock()
	r.reply(w)
	return nil
}

// envelopeOut publishes one of our client's envelopes.
func (r *Room) envelopeOut(ctx context.Context, f protocol.Envelope) error {
	r.mu.Lock()
	self := r.session
	if f.Header.Kind == protocol.KindHello && f.Header.Sender == self {
		r.hello = append([]byte(nil), f.Body()...)
	}
	r.mu.Unlock()
	if self == 0 || f.Header.Sender != self || f.Header.RID != r.keys.RID {
		return errors.New("p2p: an envelope that is not this session's")
	}
	if err := r.publish(ctx, envelopeMessage(f.Body())); err != nil {
		return err
	}
	if f.Header.Kind == protocol.KindHello {
		r.sayAlive(ctx, true)
	}
	return nil
}

// publish sends a message on the topic, paced so that a file does not
// overrun the peers' queues.
func (r *Room) publish(ctx context.Context, msg []byte) error {
	if err := r.pace.WaitN(ctx, min(len(msg), r.pace.Burst())); err != nil {
		return err
	}
	if err := r.topic.Publish(ctx, msg); err != nil {
		return fmt.Errorf("p2p publish: %w", err)
	}
	return nil
}

// say signs and publishes a notice from this session.
func (r *Room) say(ctx context.Context, n notice, key ed25519.PrivateKey) error {
	r.mu.Lock()
	n.Session = r.session
	r.mu.Unlock()
	if n.Session == 0 {
		return nil
	}
	n.TimeMS = uint64(time.Now().UnixMilli())
	return r.publish(ctx, n.sign(r.keys.RID, key))
}

// sayAlive says this session is here, with its hello; unless force, at
// most once a second.
func (r *Room) sayAlive(ctx context.Context, force bool) {
	r.mu.Lock()
	hello := r.hello
	due := force || time.Since(r.told) >= time.Second
	if due && hello != nil {
		r.told = time.Now()
	}
	r.mu.Unlock()
	if due && hello != nil {
		r.say(ctx, notice{Kind: msgAlive, Hello: hello}, r.id.Ed)
	}
}

// purge signs a purge, with the owner key if one is given, publishes it
// and ends the room here.
func (r *Room) purge(ctx context.Context, f protocol.Purge) error {
	key, byOwner := r.id.Ed, uint32(0)
	if f.Owner != nil {
		k := ed25519.NewKeyFromSeed(f.Owner[:])
		if !k.Public().(ed25519.PublicKey).Equal(r.link.Owner) {
			r.reply(protocol.Error{Code: protocol.CodeNotAllowed, Reason: "wrong owner key"})
			return nil
		}
		key, byOwner = k, 1
	} else if r.link.Policy == protocol.PolicyOwner {
		r.reply(protocol.Error{Code: protocol.CodeNotAllowed, Reason: "only the owner may purge this room"})
		return nil
	}
	if err := r.say(ctx, notice{Kind: msgPurge, Arg: byOwner}, key); err != nil {
		return err
	}
	r.end(&client.CloseError{Code: protocol.ClosePurged, Reason: "room purged"}, linger)
	return nil
}

// Close says goodbye to the room and leaves.
func (r *Room) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.say(ctx, notice{Kind: msgBye, Arg: uint32(protocol.LeftClosed)}, r.id.Ed)
	r.end(nil, linger)
	return nil
}

// CloseNow leaves at once.
func (r *Room) CloseNow() error {
	r.end(nil, 0)
	return nil
}

// end ends the room for this peer with why (nil: closed by the client)
// and, after wait (for what was just published to go out), stops the
// host. Every key and hello this peer held is dropped.
func (r *Room) end(why *client.CloseError, wait time.Duration) {
	r.shut.Do(func() {
		r.mu.Lock()
		r.ended, r.over = why, true
		r.members, r.order, r.held, r.hello = map[uint32]*peerMember{}, nil, map[uint32][]heldEnv{}, nil
		r.mu.Unlock()
		close(r.done)
		go func() {
			time.Sleep(wait)
			r.stop()
			r.sub.Cancel()
			r.node.PS.UnregisterTopicValidator(r.topic.String())
			r.topic.Close()
			r.node.Close()
		}()
	})
}

// readTopic handles the topic's messages until the room ends.
func (r *Room) readTopic(ctx context.Context) {
	for {
		m, err := r.sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == r.self {
			continue // our own, delivered back
		}
		env, n, err := decode(m.Data)
		if err != nil {
			continue // the validator let nothing like it through
		}
		var out [][]byte
		var rekey func(uint32)
		var ask *notice
		r.mu.Lock()
		if !r.over {
			if env != nil {
				out, ask = r.envelopeInLocked(env, time.Now())
			} else {
				out, rekey = r.noticeLocked(n)
			}
		}
		r.mu.Unlock()
		if ask != nil {
			r.say(ctx, *ask, r.id.Ed)
		}
		if rekey != nil {
			rekey(n.Session)
		}
		if n.Kind == msgAlive && len(out) > 0 {
			r.sayAlive(ctx, false) // a newcomer: it learns of us at once
		}
		for _, b := range out {
			select {
			case r.in <- b:
			case <-r.done:
			case <-ctx.Done():
				return
			}
		}
	}
}

// helloLocked takes in a member's hello (from an envelope or an alive
// notice) and returns it as a frame for the client if it is news: a new
// member, or a newer hello of one (which has every member send it its key
// again).
func (r *Room) helloLocked(hello []byte, now time.Time) [][]byte {
	m, h, err := e2ee.OpenHello(r.keys, hello)
	if err != nil || h.Sender == 0 || h.Sender == r.session {
		return nil
	}
	pm := r.members[h.Sender]
	if pm != nil && (!pm.ed.Equal(m.EdPub) || string(pm.x) != string(m.XPub)) {
		return nil // another member's session number: the first keeps it
	}
	if pm == nil {
		if len(r.members) >= protocol.MaxMembers-1 {
			return nil
		}
		pm = &peerMember{ed: m.EdPub, x: m.XPub}
		r.members[h.Sender] = pm
		r.order = append(r.order, h.Sender)
	} else if h.Seq <= pm.seq {
		pm.seen = now
		return nil
	}
	pm.hello, pm.seq, pm.seen = hello, h.Seq, now
	if r.session == 0 {
		return nil // the WELCOME will list it
	}
	out := [][]byte{frameOf(hello)}
	return append(out, r.releaseLocked(h.Sender, now)...)
}

func frameOf(env []byte) []byte { return append([]byte{protocol.TypeEnvelope}, env...) }

// envelopeInLocked takes in an envelope from the topic. What a member
// sends before its hello, or a message before its key, is held for a
// while, as the topic may deliver them out of order; a message whose key
// is late has the member asked for it again.
func (r *Room) envelopeInLocked(env []byte, now time.Time) ([][]byte, *notice) {
	h, _ := protocol.ParseHeader(env)
	if h.RID != r.keys.RID || h.Sender == r.session {
		return nil, nil
	}
	if (protocol.Addressed(h.Kind) || h.To != 0) && h.To != r.session {
		return nil, nil // addressed to another member
	}
	if h.Kind == protocol.KindHello {
		return r.helloLocked(env, now), nil
	}
	if r.session == 0 {
		return nil, nil
	}
	pm := r.members[h.Sender]
	if pm == nil || h.Kind == protocol.KindMsg && h.Epoch > pm.keyed {
		r.holdLocked(h.Sender, env, now)
		if pm == nil {
			return nil, nil
		}
		return nil, r.askLocked(h.Sender, h.Epoch, now)
	}
	pm.seen = now
	if h.Kind == protocol.KindSenderKey && h.Epoch > pm.keyed {
		pm.keyed = h.Epoch
		return append([][]byte{frameOf(env)}, r.releaseLocked(h.Sender, now)...), nil
	}
	return [][]byte{frameOf(env)}, nil
}

func (r *Room) holdLocked(s uint32, env []byte, now time.Time) {
	if r.nheld >= holdTotal || len(r.held[s]) >= holdPerSender {
		return
	}
	r.held[s] = append(r.held[s], heldEnv{env, now})
	r.nheld++
}

// releaseLocked returns the held envelopes of s that can now go to the
// client, in the order they came.
func (r *Room) releaseLocked(s uint32, now time.Time) [][]byte {
	hs := r.held[s]
	delete(r.held, s)
	r.nheld -= len(hs)
	var out [][]byte
	for _, e := range hs {
		got, _ := r.envelopeInLocked(e.env, e.at)
		out = append(out, got...)
	}
	return out
}

// askLocked returns a key request to s for epoch, unless one went out in
// the last two seconds.
func (r *Room) askLocked(s, epoch uint32, now time.Time) *notice {
	k := [2]uint32{s, epoch}
	if now.Sub(r.asked[k]) < 2*time.Second {
		return nil
	}
	if len(r.asked) > 4096 {
		clear(r.asked)
	}
	r.asked[k] = now
	return &notice{Kind: msgKeyReq, To: s, Arg: epoch}
}

// noticeLocked acts on a notice that the validator let through. It
// returns frames for the client and, for a key request to us, the
// function that resends our key.
func (r *Room) noticeLocked(n notice) ([][]byte, func(uint32)) {
	now := time.Now()
	switch n.Kind {
	case msgAlive:
		if pm := r.members[n.Session]; pm != nil {
			if n.TimeMS <= pm.alive {
				return nil, nil
			}
			pm.alive = n.TimeMS
		}
		out := r.helloLocked(n.Hello, now)
		if pm := r.members[n.Session]; pm != nil {
			pm.alive = max(pm.alive, n.TimeMS)
		}
		return out, nil
	case msgBye:
		pm := r.members[n.Session]
		if pm == nil || !n.verify(r.keys.RID, pm.ed) {
			return nil, nil
		}
		reason := protocol.LeftClosed
		if n.Arg == uint32(protocol.LeftLoggedOut) {
			reason = protocol.LeftLoggedOut
		}
		return r.leaveLocked(n.Session, reason), nil
	case msgPurge:
		if r.purgeValidLocked(n) {
			go r.end(&client.CloseError{Code: protocol.ClosePurged, Reason: "room purged"}, linger)
		}
	case msgKeyReq:
		pm := r.members[n.Session]
		if n.To != r.session || pm == nil || !n.verify(r.keys.RID, pm.ed) || now.Sub(r.answered[n.Session]) < time.Second {
			return nil, nil
		}
		pm.seen = now
		r.answered[n.Session] = now
		return nil, r.rekey
	}
	return nil, nil
}

// purgeValidLocked checks a purge's signature: the owner key, or (if the
// room lets anyone purge) a member's.
func (r *Room) purgeValidLocked(n notice) bool {
	if n.Arg == 1 {
		return n.verify(r.keys.RID, r.link.Owner)
	}
	pm := r.members[n.Session]
	return r.link.Policy == protocol.PolicyAnyone && pm != nil && n.verify(r.keys.RID, pm.ed)
}

// leaveLocked forgets a member and returns the LEFT for the client.
func (r *Room) leaveLocked(s uint32, reason byte) [][]byte {
	if r.members[s] == nil {
		return nil
	}
	delete(r.members, s)
	for i, o := range r.order {
		if o == s {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	r.nheld -= len(r.held[s])
	delete(r.held, s)
	if r.session == 0 {
		return nil
	}
	return [][]byte{protocol.Encode(protocol.Left{Session: s, Reason: reason})}
}

// validate decides what the topic carries on: well-formed messages of
// this room, with notices signed by whom they claim. A notice from a
// member this peer has not heard of is neither passed on nor held
// against the peer that sent it.
func (r *Room) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if from == r.self {
		return pubsub.ValidationAccept
	}
	env, n, err := decode(m.Data)
	if err != nil {
		return pubsub.ValidationReject
	}
	if env != nil {
		h, _ := protocol.ParseHeader(env)
		if h.RID != r.keys.RID {
			return pubsub.ValidationReject
		}
		return pubsub.ValidationAccept
	}
	now := time.Now().UnixMilli()
	if d := now - int64(n.TimeMS); d > freshFor.Milliseconds() || d < -freshFor.Milliseconds() {
		return pubsub.ValidationIgnore
	}
	switch n.Kind {
	case msgAlive:
		mb, h, err := e2ee.OpenHello(r.keys, n.Hello)
		if err != nil || h.Sender != n.Session || !n.verify(r.keys.RID, mb.EdPub) {
			return pubsub.ValidationReject
		}
		return pubsub.ValidationAccept
	case msgPurge:
		r.mu.Lock()
		ok, known := r.purgeValidLocked(n), r.members[n.Session] != nil
		r.mu.Unlock()
		switch {
		case ok:
			return pubsub.ValidationAccept
		case n.Arg != 1 && !known:
			return pubsub.ValidationIgnore
		}
		return pubsub.ValidationReject
	}
	r.mu.Lock()
	pm := r.members[n.Session]
	r.mu.Unlock()
	if pm == nil || n.Kind == msgKeyReq && n.To == 0 {
		return pubsub.ValidationIgnore
	}
	if !n.verify(r.keys.RID, pm.ed) {
		return pubsub.ValidationReject
	}
	return pubsub.ValidationAccept
}

// tick says this member is here, drops members not heard from, lets held
// envelopes go and ends the room at its deadline.
func (r *Room) tick(ctx context.Context) {
	t := time.NewTicker(aliveEvery / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.done:
			return
		case now := <-t.C:
			if !now.Before(r.link.Ends) {
				r.end(&client.CloseError{Code: protocol.CloseExpired, Reason: "room expired"}, 0)
				return
			}
			r.mu.Lock()
			due := r.hello != nil && now.Sub(r.told) >= aliveEvery
			var out [][]byte
			for s, pm := range r.members {
				if now.Sub(pm.seen) > dropAfter {
					out = append(out, r.leaveLocked(s, protocol.LeftDropped)...)
				}
			}
			for s, hs := range r.held {
				i := 0
				for i < len(hs) && now.Sub(hs[i].at) > holdFor {
					i++
				}
				r.nheld -= i
				if r.held[s] = hs[i:]; len(r.held[s]) == 0 {
					delete(r.held, s)
				}
			}
			r.mu.Unlock()
			if due {
				r.sayAlive(ctx, true)
			}
			for _, b := range out {
				select {
				case r.in <- b:
				case <-r.done:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// greet says this member is here as soon as a new peer joins the topic,
// so that a newcomer learns of the room without waiting.
func (r *Room) greet(ctx context.Context, events *pubsub.TopicEventHandler) {
	defer events.Cancel()
	for {
		ev, err := events.NextPeerEvent(ctx)
		if err != nil {
			return
		}
		if ev.Type == pubsub.PeerJoin {
			r.sayAlive(ctx, false)
		}
	}
}

// discover advertises the room's rendezvous on the DHT and connects to the
// peers found there, again every ten seconds.
func (r *Room) discover(ctx context.Context, name string) {
	r.node.Advertise(ctx, name)
	for {
		r.node.Find(ctx, name)
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
	}
}
