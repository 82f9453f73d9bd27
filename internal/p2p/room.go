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
	holdFor    = 10 * time.Second // a message waits this long for its sender's hello
	freshFor   = 2 * time.Minute  // a notice whose clock is further off is refused
	linger     = 500 * time.Millisecond
	byeGrace   = time.Second            // a goodbye may overtake what the member sent before it
	settleFor  = 700 * time.Millisecond // a newcomer joins once no new member has answered it for this long
	answerGap  = 200 * time.Millisecond // a member answers newcomers at most this often
	gapWait    = 2 * time.Second        // a member's envelope that has not come is given up for lost
	keyWait    = 2 * time.Second        // a message whose sender key has not come is given up for lost
)

// errPurged ends the room for a peer that purged it or took in a purge.
var errPurged = &client.CloseError{Code: protocol.ClosePurged, Reason: "room purged"}

// Bounds on what a peer keeps for others.
const (
	holdPerSender = 64
	holdBytes     = 8 << 20
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
	pubMu sync.Mutex     // guards sent, and keeps envelopes published in its order
	sent  uint64         // envelopes published
	down  chan struct{}  // closed once the host is stopped
	loops sync.WaitGroup // the room's goroutines, done before the topic closes

	mu       sync.Mutex
	session  uint32
	hello    []byte // our client's latest hello
	replies  [][]byte
	members  map[uint32]*peerMember
	order    []uint32
	gone     map[uint32]bool // sessions that left: a session number is never reused
	held     map[uint32][]heldEnv
	nheld    int                     // bytes in held
	asked    map[[2]uint32]time.Time // (member, epoch): when we last asked for its key
	answered map[uint32]time.Time    // member: when we last resent our key on its request
	told     time.Time               // when we last said we are here
	ended    *client.CloseError
	over     bool // the room ended for this peer
	unopened int  // alive notices whose hello did not open: another password
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
	// The member's envelopes in the order it sent them: next is the count
	// due (0: none seen yet), early those that came before it, since gapAt.
	next  uint64
	early map[uint64][]byte
	gapAt time.Time
	// queue holds, in order, envelopes behind a message whose key is late.
	queue []heldEnv
	// leaving is when a member that said goodbye is gone: until then what
	// it sent before (which the topic may bring after) still goes through.
	leaving time.Time
	reason  byte
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
		pace: rate.NewLimiter(4<<20, 1<<20), in: make(chan []byte, 4096), wake: make(chan struct{}, 1), down: make(chan struct{}),
		done: make(chan struct{}), members: map[uint32]*peerMember{}, gone: map[uint32]bool{}, held: map[uint32][]heldEnv{},
		asked: map[[2]uint32]time.Time{}, answered: map[uint32]time.Time{}}
	name := l.Topic()
	if err := n.PS.RegisterTopicValidator(name, r.validate, pubsub.WithValidatorInline(true)); err != nil {
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
	r.loops.Go(func() { r.readTopic(rctx) })
	r.loops.Go(func() { r.tick(rctx) })
	r.loops.Go(func() { r.discover(rctx, name) })
	r.loops.Go(func() { r.greet(rctx, events) })
	if o.Wait > 0 {
		// Ask who is here until members answer, and go on until no new
		// one has for a moment, so that the WELCOME lists them all.
		wctx, cancel := context.WithTimeout(ctx, o.Wait)
		defer cancel()
		var asked, changed time.Time
		for seen := 0; wctx.Err() == nil; {
			if n := r.Members(); n != seen {
				seen, changed = n, time.Now()
			}
			if seen > 0 && time.Since(changed) >= settleFor {
				break
			}
			if time.Since(asked) >= 300*time.Millisecond && len(r.topic.ListPeers()) > 0 {
				asked = time.Now()
				// A who carries random bytes: the topic drops a message
				// that is byte for byte one it has seen.
				who := make([]byte, 1+whoNonce)
				who[0] = msgWho
				rand.Read(who[1:])
				r.publish(wctx, who)
			}
			select {
			case <-wctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			r.CloseNow()
			return nil, ctx.Err()
		}
		r.mu.Lock()
		wrong := len(r.members) == 0 && r.unopened > 0 && l.Room.Password
		r.mu.Unlock()
		if wrong {
			// Peers of the room are here, and no hello of theirs opens
			// under this password's key.
			r.CloseNow()
			return nil, &client.CloseError{Code: protocol.CloseWrongPassword, Reason: "wrong password"}
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
	case protocol.Owner:
		// The owner key is checked here and kept by the client for a
		// purge; it grants nothing else, as no server is there to enforce
		// a kick or a lock, so no owner state is claimed.
		if k := ed25519.NewKeyFromSeed(f.Key[:]); !k.Public().(ed25519.PublicKey).Equal(r.link.Owner) {
			r.reply(protocol.Error{Code: protocol.CodeNotAllowed, Reason: "wrong owner key"})
		}
	case protocol.Kick, protocol.Lock:
		r.reply(protocol.Error{Code: protocol.CodeNotAllowed, Reason: "a peer-to-peer room cannot kick or lock: no server is there to enforce it"})
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
	for r.session == 0 || r.members[r.session] != nil || r.gone[r.session] {
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
	// The count and the publishing go together, so that the counts go
	// out in order (file chunks are written beside other frames); a count
	// that did not go out is used again.
	r.pubMu.Lock()
	r.sent++
	err := r.publish(ctx, envelopeMessage(r.sent, f.Body()))
	if err != nil {
		r.sent--
	}
	r.pubMu.Unlock()
	if err != nil {
		return err
	}
	if f.Header.Kind == protocol.KindHello {
		r.sayAlive(ctx, 0)
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

// sayAlive says this session is here, with its hello, unless it did in
// the last gap.
func (r *Room) sayAlive(ctx context.Context, gap time.Duration) {
	r.mu.Lock()
	hello := r.hello
	due := time.Since(r.told) >= gap
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
	r.end(errPurged, linger)
	return nil
}

// Close says goodbye to the room, leaves, and returns once the host has
// stopped.
func (r *Room) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.say(ctx, notice{Kind: msgBye, Arg: uint32(protocol.LeftClosed)}, r.id.Ed)
	r.end(nil, linger)
	<-r.down
	return nil
}

// CloseNow leaves at once, and returns once the host has stopped.
func (r *Room) CloseNow() error {
	r.end(nil, 0)
	<-r.down
	return nil
}

// end ends the room for this peer with why (nil: closed by the client)
// and, after wait (for what was just published to go out), stops the
// host. Every key and hello this peer held is dropped.
func (r *Room) end(why *client.CloseError, wait time.Duration) {
	r.shut.Do(func() {
		r.mu.Lock()
		r.ended, r.over = why, true
		r.members, r.order, r.held, r.hello, r.gone = map[uint32]*peerMember{}, nil, map[uint32][]heldEnv{}, nil, map[uint32]bool{}
		r.mu.Unlock()
		close(r.done)
		go func() {
			time.Sleep(wait)
			r.stop()
			r.sub.Cancel()
			r.loops.Wait()
			r.node.PS.UnregisterTopicValidator(r.topic.String())
			r.topic.Close()
			r.node.Close()
			close(r.down)
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
		var out [][]byte
		var then []func(context.Context)
		r.mu.Lock()
		if !r.over {
			out, then = r.messageLocked(m.Data, time.Now())
		}
		r.mu.Unlock()
		if !r.pass(ctx, out, then) {
			return
		}
	}
}

// pass does what taking messages in left to do once the lock is let go,
// then hands out's frames to the client. It reports false once ctx ends.
func (r *Room) pass(ctx context.Context, out [][]byte, then []func(context.Context)) bool {
	for _, f := range then {
		f(ctx)
	}
	for _, b := range out {
		select {
		case r.in <- b:
		case <-r.done:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// messageLocked takes in a topic message. It returns frames for the
// client, and what to do once the lock is let go: ask a member for its
// key, resend ours, or say we are here to a newcomer.
//
// The topic does not keep a member's order, as a relay's socket does: the
// peers check messages concurrently and a message may come by more than
// one path. So what a member sends before its hello is here waits for it;
// a member's envelopes go to the client in the order it counted them (a
// gap waits up to gapWait); and what follows a message whose key is late
// waits behind it, up to keyWait, while the member is asked for the key.
func (r *Room) messageLocked(data []byte, now time.Time) ([][]byte, []func(context.Context)) {
	env, count, n, err := decode(data)
	if err != nil {
		return nil, nil // the validator let nothing like it through
	}
	if env == nil {
		return r.noticeLocked(data, n, now)
	}
	h, _ := protocol.ParseHeader(env)
	if h.RID != r.keys.RID || h.Sender == r.session {
		return nil, nil
	}
	if h.Kind == protocol.KindHello {
		out, then := r.helloLocked(env, now)
		if pm := r.members[h.Sender]; pm != nil && pm.next <= count {
			pm.next = count + 1
			o, t := r.flushLocked(pm, h.Sender, now)
			out, then = append(out, o...), append(then, t...)
		}
		return out, then
	}
	if r.session == 0 {
		return nil, nil
	}
	pm := r.members[h.Sender]
	if pm == nil {
		r.holdLocked(h.Sender, data, now)
		return nil, nil
	}
	pm.seen = now
	if pm.next == 0 {
		pm.next = count
	}
	switch {
	case count < pm.next:
		return r.gateLocked(pm, h.Sender, env, now) // late, or again: the client sorts it out
	case count > pm.next:
		if pm.early == nil {
			pm.early = map[uint64][]byte{}
		}
		if len(pm.early) < holdPerSender {
			pm.early[count] = env
		}
		if pm.gapAt.IsZero() {
			pm.gapAt = now
		}
		return nil, nil
	}
	out, then := r.gateLocked(pm, h.Sender, env, now)
	pm.next++
	o, t := r.flushLocked(pm, h.Sender, now)
	return append(out, o...), append(then, t...)
}

// flushLocked lets through the member's early envelopes that are now due.
func (r *Room) flushLocked(pm *peerMember, s uint32, now time.Time) ([][]byte, []func(context.Context)) {
	var out [][]byte
	var then []func(context.Context)
	for {
		env, ok := pm.early[pm.next]
		if !ok {
			break
		}
		delete(pm.early, pm.next)
		pm.next++
		o, t := r.gateLocked(pm, s, env, now)
		out, then = append(out, o...), append(then, t...)
	}
	// Anything still early waits for a new gap.
	for c := range pm.early {
		if c < pm.next {
			delete(pm.early, c)
		}
	}
	pm.gapAt = time.Time{}
	if len(pm.early) > 0 {
		pm.gapAt = now
	}
	return out, then
}

// skipLocked gives up on a gap that has waited gapWait: the envelopes
// after it go on.
func (r *Room) skipLocked(pm *peerMember, s uint32, now time.Time) ([][]byte, []func(context.Context)) {
	if pm.gapAt.IsZero() || now.Sub(pm.gapAt) < gapWait {
		return nil, nil
	}
	first := uint64(0)
	for c := range pm.early {
		if first == 0 || c < first {
			first = c
		}
	}
	if first > pm.next {
		pm.next = first
	}
	return r.flushLocked(pm, s, now)
}

// gateLocked passes an envelope of the member, in order, to the client,
// unless it is addressed to another member, or it (or one before it)
// waits for the member's sender key.
func (r *Room) gateLocked(pm *peerMember, s uint32, env []byte, now time.Time) ([][]byte, []func(context.Context)) {
	h, _ := protocol.ParseHeader(env)
	if (protocol.Addressed(h.Kind) || h.To != 0) && h.To != r.session {
		return nil, nil // addressed to another member
	}
	if h.Kind == protocol.KindSenderKey {
		// A key goes ahead of what waits for it.
		pm.keyed = max(pm.keyed, h.Epoch)
		out, then := r.drainLocked(pm, s, now)
		return append([][]byte{frameOf(env)}, out...), then
	}
	blocked := h.Kind == protocol.KindMsg && h.Epoch > pm.keyed
	if len(pm.queue) == 0 && !blocked {
		return [][]byte{frameOf(env)}, nil
	}
	if len(pm.queue) < holdPerSender {
		pm.queue = append(pm.queue, heldEnv{env, now})
	}
	if blocked {
		return nil, r.askLocked(s, h.Epoch, now)
	}
	return nil, nil
}

// drainLocked lets the member's queue go up to the first message whose key
// is still late; one that waited keyWait is dropped (the client counts it
// in a gap), as a key sent again starts later in the chain.
func (r *Room) drainLocked(pm *peerMember, s uint32, now time.Time) ([][]byte, []func(context.Context)) {
	var out [][]byte
	for len(pm.queue) > 0 {
		e := pm.queue[0]
		h, _ := protocol.ParseHeader(e.env)
		if h.Kind == protocol.KindMsg && h.Epoch > pm.keyed {
			if now.Sub(e.at) < keyWait {
				break
			}
		} else {
			out = append(out, frameOf(e.env))
		}
		pm.queue = pm.queue[1:]
	}
	return out, nil
}

// helloLocked takes in a member's hello (from an envelope or an alive
// notice) and returns it as a frame for the client if it is news: a new
// member, or a newer hello of one (which has every member send it its key
// again). A newcomer hears from us at once.
func (r *Room) helloLocked(hello []byte, now time.Time) ([][]byte, []func(context.Context)) {
	m, h, err := e2ee.OpenHello(r.keys, hello)
	if err != nil || h.Sender == 0 || h.Sender == r.session || r.gone[h.Sender] {
		return nil, nil
	}
	pm := r.members[h.Sender]
	if pm != nil && (!pm.ed.Equal(m.EdPub) || string(pm.x) != string(m.XPub)) {
		return nil, nil // another member's session number: the first keeps it
	}
	if pm == nil {
		if len(r.members) >= protocol.MaxMembers-1 {
			return nil, nil
		}
		pm = &peerMember{ed: m.EdPub, x: m.XPub}
		r.members[h.Sender] = pm
		r.order = append(r.order, h.Sender)
	} else if h.Seq <= pm.seq {
		pm.seen = now
		return nil, nil
	}
	pm.hello, pm.seq, pm.seen = hello, h.Seq, now
	if r.session == 0 {
		return nil, nil // the WELCOME will list it
	}
	out, then := r.releaseLocked(h.Sender, now)
	then = append(then, func(ctx context.Context) { r.sayAlive(ctx, answerGap) })
	return append([][]byte{frameOf(hello)}, out...), then
}

func frameOf(env []byte) []byte { return append([]byte{protocol.TypeEnvelope}, env...) }

// holdLocked keeps a message of a member whose hello is not here yet.
// Nothing vouches for it (anyone on the topic may send one under any
// session number), so what is kept is bounded in bytes.
func (r *Room) holdLocked(s uint32, data []byte, now time.Time) {
	if r.nheld+len(data) > holdBytes || len(r.held[s]) >= holdPerSender {
		return
	}
	r.held[s] = append(r.held[s], heldEnv{data, now})
	r.nheld += len(data)
}

func heldBytes(hs []heldEnv) int {
	n := 0
	for _, h := range hs {
		n += len(h.env)
	}
	return n
}

// releaseLocked takes in again the held messages of s, in the order they
// came; those that still cannot go through are held again.
func (r *Room) releaseLocked(s uint32, now time.Time) ([][]byte, []func(context.Context)) {
	hs := r.held[s]
	delete(r.held, s)
	r.nheld -= heldBytes(hs)
	var out [][]byte
	var then []func(context.Context)
	for _, e := range hs {
		got, t := r.messageLocked(e.env, e.at)
		out, then = append(out, got...), append(then, t...)
	}
	return out, then
}

// askLocked asks s for its key of epoch, unless we did in the last two
// seconds.
func (r *Room) askLocked(s, epoch uint32, now time.Time) []func(context.Context) {
	k := [2]uint32{s, epoch}
	if now.Sub(r.asked[k]) < 2*time.Second {
		return nil
	}
	if len(r.asked) > 4096 {
		clear(r.asked)
	}
	r.asked[k] = now
	return []func(context.Context){func(ctx context.Context) {
		r.say(ctx, notice{Kind: msgKeyReq, To: s, Arg: epoch}, r.id.Ed)
	}}
}

// noticeLocked acts on a notice that the validator let through. One from
// a member not heard of yet waits for its hello, as an envelope does.
func (r *Room) noticeLocked(data []byte, n notice, now time.Time) ([][]byte, []func(context.Context)) {
	if n.Kind == msgWho {
		return nil, []func(context.Context){func(ctx context.Context) { r.sayAlive(ctx, answerGap) }}
	}
	if n.Kind == msgAlive {
		if pm := r.members[n.Session]; pm != nil {
			if n.TimeMS <= pm.alive {
				return nil, nil
			}
			pm.alive = n.TimeMS
		}
		out, then := r.helloLocked(n.Hello, now)
		if pm := r.members[n.Session]; pm != nil {
			pm.alive = max(pm.alive, n.TimeMS)
		}
		return out, then
	}
	if n.Kind == msgPurge && (n.Arg == 1 || r.members[n.Session] != nil) {
		if r.purgeValidLocked(n) {
			go r.end(errPurged, linger)
		}
		return nil, nil
	}
	pm := r.members[n.Session]
	if pm == nil {
		if r.session != 0 && !r.gone[n.Session] {
			r.holdLocked(n.Session, data, now)
		}
		return nil, nil
	}
	if !n.verify(r.keys.RID, pm.ed) {
		return nil, nil
	}
	pm.seen = now
	switch n.Kind {
	case msgBye:
		if pm.leaving.IsZero() {
			pm.leaving, pm.reason = now.Add(byeGrace), protocol.LeftClosed
			if n.Arg == uint32(protocol.LeftLoggedOut) {
				pm.reason = protocol.LeftLoggedOut
			}
		}
	case msgKeyReq:
		if n.To != r.session || now.Sub(r.answered[n.Session]) < time.Second || r.rekey == nil {
			return nil, nil
		}
		r.answered[n.Session] = now
		rekey, s := r.rekey, n.Session
		return nil, []func(context.Context){func(context.Context) { rekey(s) }}
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
	if reason != protocol.LeftDropped {
		// It said goodbye: what comes later under its number is a
		// replay. One that dropped may come back, and is a newcomer.
		if len(r.gone) >= 1<<16 {
			clear(r.gone)
		}
		r.gone[s] = true
	}
	for i, o := range r.order {
		if o == s {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	r.nheld -= heldBytes(r.held[s])
	delete(r.held, s)
	if r.session == 0 {
		return nil
	}
	return [][]byte{protocol.Encode(protocol.Left{Session: s, Reason: reason})}
}

// validate decides what the topic carries on: well-formed messages of
// this room, with notices signed by whom they claim. A notice from a
// member this peer has not heard of yet is passed on, and checked when
// its hello is here (noticeLocked holds it until then).
func (r *Room) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if from == r.self {
		return pubsub.ValidationAccept
	}
	env, _, n, err := decode(m.Data)
	if err != nil {
		return pubsub.ValidationReject
	}
	if env != nil {
		h, _ := protocol.ParseHeader(env)
		if h.RID != r.keys.RID {
			return pubsub.ValidationReject
		}
		if h.Kind == protocol.KindHello {
			return pubsub.ValidationAccept // opened when taken in
		}
		// An envelope of a member this peer knows must carry its
		// signature, so that nobody else's goes on or takes its place
		// in the member's order.
		r.mu.Lock()
		pm := r.members[h.Sender]
		r.mu.Unlock()
		if pm != nil {
			if _, err := e2ee.Verify(env, pm.ed); err != nil {
				return pubsub.ValidationReject
			}
		}
		return pubsub.ValidationAccept
	}
	if n.Kind == msgWho {
		return pubsub.ValidationAccept
	}
	now := time.Now().UnixMilli()
	if d := now - int64(n.TimeMS); d > freshFor.Milliseconds() || d < -freshFor.Milliseconds() {
		return pubsub.ValidationIgnore
	}
	switch n.Kind {
	case msgAlive:
		mb, h, err := e2ee.OpenHello(r.keys, n.Hello)
		if err != nil {
			r.mu.Lock()
			r.unopened++
			r.mu.Unlock()
		}
		if err != nil || h.Sender != n.Session || !n.verify(r.keys.RID, mb.EdPub) {
			return pubsub.ValidationReject
		}
		return pubsub.ValidationAccept
	case msgPurge:
		r.mu.Lock()
		ok, known := r.purgeValidLocked(n), r.members[n.Session] != nil
		r.mu.Unlock()
		if ok || n.Arg != 1 && !known {
			return pubsub.ValidationAccept // from an unknown member: checked later, as above
		}
		return pubsub.ValidationReject
	}
	if n.Kind == msgKeyReq && n.To == 0 {
		return pubsub.ValidationReject
	}
	r.mu.Lock()
	pm := r.members[n.Session]
	r.mu.Unlock()
	if pm == nil {
		// Perhaps a member whose hello this peer has not taken in yet:
		// passed on, and checked once it has.
		return pubsub.ValidationAccept
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
			var then []func(context.Context)
			for s, pm := range r.members {
				o, t := r.skipLocked(pm, s, now)
				out, then = append(out, o...), append(then, t...)
				o, t = r.drainLocked(pm, s, now)
				out, then = append(out, o...), append(then, t...)
				switch {
				case !pm.leaving.IsZero() && now.After(pm.leaving):
					out = append(out, r.leaveLocked(s, pm.reason)...)
				case now.Sub(pm.seen) > dropAfter:
					out = append(out, r.leaveLocked(s, protocol.LeftDropped)...)
				}
			}
			for s, hs := range r.held {
				i := 0
				for i < len(hs) && now.Sub(hs[i].at) > holdFor {
					i++
				}
				r.nheld -= heldBytes(hs[:i])
				if r.held[s] = hs[i:]; len(r.held[s]) == 0 {
					delete(r.held, s)
				}
			}
			r.mu.Unlock()
			if due {
				r.sayAlive(ctx, 0)
			}
			if !r.pass(ctx, out, then) {
				return
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
			r.sayAlive(ctx, answerGap)
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
