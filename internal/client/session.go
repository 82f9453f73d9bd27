package client

import (
	"context"
	"crypto/ecdh"
	"crypto/mlkem"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// welcomeLocked takes in the WELCOME, announces this session and starts the
// first epoch, whose key goes to every member already here.
func (c *Client) welcomeLocked(ctx context.Context, w protocol.Welcome) error {
	c.session, c.token, c.policy, c.meta = w.Session, w.Token, w.Policy, w.Meta
	c.ends = time.Now().Add(time.Duration(w.RemainingMS) * time.Millisecond)
	taken := map[string]bool{}
	for _, wm := range w.Members {
		m, h, err := e2ee.OpenHello(c.keys, wm.Hello)
		if err != nil || h.Sender != wm.Session {
			continue // a hello that does not verify is not a member
		}
		c.addLocked(&member{Member: m, ctlSeen: h.Seq})
		taken[strings.ToLower(m.Alias)] = true
	}
	c.alias = distinctAlias(c.cfg.Alias, taken)
	var caps []string
	if !c.cfg.NoMLKEM {
		caps = []string{e2ee.CapMLKEM}
	}
	c.ctl++
	hello, err := e2ee.SealHello(c.keys, c.session, c.ctl, c.id, c.alias, caps, nil)
	if err != nil {
		return err
	}
	if err := c.write(ctx, envFrame(hello)); err != nil {
		return err
	}
	return c.startEpochLocked(ctx)
}

// distinctAlias normalises alias (or makes one up) and appends -2, -3, …
// while another member uses it.
func distinctAlias(alias string, taken map[string]bool) string {
	a := e2ee.NormalizeAlias(alias)
	if a == "" {
		a = RandomAlias()
	}
	if !taken[strings.ToLower(a)] {
		return a
	}
	for i := 2; ; i++ {
		s := fmt.Sprintf("-%d", i)
		base := []rune(a)
		if len(base)+len(s) > e2ee.MaxAlias {
			base = base[:e2ee.MaxAlias-len(s)]
		}
		if cand := string(base) + s; !taken[strings.ToLower(cand)] {
			return cand
		}
	}
}

func envFrame(env []byte) []byte { return append([]byte{protocol.TypeEnvelope}, env...) }

func (c *Client) addLocked(m *member) {
	c.members[m.Session] = m
	c.order = append(c.order, m.Session)
}

func (c *Client) removeLocked(session uint32) *member {
	m := c.members[session]
	delete(c.members, session)
	for i, s := range c.order {
		if s == session {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	if m != nil {
		if m.recv != nil {
			m.recv.Erase()
		}
		if m.dm != nil {
			m.dm.erase()
		}
		// Its public keys stay, so that a report about it still verifies.
		if c.mod.departed == nil || len(c.mod.departed) >= 1024 {
			c.mod.departed = map[uint32]*member{}
		}
		c.mod.departed[session] = &member{Member: m.Member}
	}
	return m
}

// startEpochLocked begins a new sending epoch with a fresh chain key and
// sends it to every member.
func (c *Client) startEpochLocked(ctx context.Context) error {
	var ck [32]byte
	rand.Read(ck[:])
	epoch := uint32(1)
	if c.group != nil {
		epoch = c.group.epoch + 1
		c.group.chain.Erase()
	}
	c.group = &sendGroup{epoch: epoch, chain: e2ee.NewSendChain(ck, 1), start: c.now(), first: 1}
	for _, s := range c.order {
		if err := c.sendKeyLocked(ctx, c.members[s]); err != nil {
			return err
		}
	}
	return nil
}

// sendKeyLocked hands m this session's current chain key and next index.
func (c *Client) sendKeyLocked(ctx context.Context, m *member) error {
	ck, n := c.group.chain.Snapshot()
	c.ctl++
	h := protocol.Header{RID: c.keys.RID, Sender: c.session, To: m.Session, Epoch: c.group.epoch, Seq: c.ctl}
	env, err := e2ee.SealSenderKey(h, m.XPub, c.id.Ed, ck, n)
	if err != nil {
		return err
	}
	return c.write(ctx, envFrame(env))
}

// ResendKey hands a member this session's current chain key again: a room
// with no relay (internal/p2p) may lose a message, and the member asks.
func (c *Client) ResendKey(ctx context.Context, session uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[session]
	if !ok {
		return ErrNotMember
	}
	if c.group == nil {
		return nil
	}
	return c.sendKeyLocked(ctx, m)
}

// readLoop handles frames until the socket ends, then closes Events.
func (c *Client) readLoop(ctx context.Context) {
	defer close(c.events)
	for {
		b, err := c.conn().Read(ctx)
		if err != nil && c.resume(ctx, err) {
			continue
		}
		if err != nil {
			c.mu.Lock()
			if c.closed == nil {
				c.closed = describeClose(err)
			}
			why := c.closed
			c.mu.Unlock()
			e := Event{Type: "closed", Text: why.Error()}
			var ce *CloseError
			if errors.As(why, &ce) {
				e.Code, e.Text = ce.Code, ce.Reason
			}
			select {
			case c.events <- e:
			default:
			}
			close(c.done)
			return
		}
		c.tap("in", b)
		f, err := protocol.Decode(b)
		if err != nil {
			c.events <- Event{Type: "reject", Text: "malformed frame from the server"}
			continue
		}
		c.mu.Lock()
		evs := c.handleLocked(ctx, f)
		c.mu.Unlock()
		for _, e := range evs {
			c.events <- e
		}
	}
}

func (c *Client) handleLocked(ctx context.Context, f protocol.Frame) []Event {
	switch f := f.(type) {
	case protocol.Left:
		m := c.removeLocked(f.Session)
		if m == nil {
			return nil
		}
		reason := map[byte]string{protocol.LeftClosed: "left", protocol.LeftLoggedOut: "logged out",
			protocol.LeftDropped: "dropped", protocol.LeftTooSlow: "too slow", protocol.LeftRemoved: "removed by the owner",
			protocol.LeftIdle: "idle"}[f.Reason]
		evs := []Event{{Type: "leave", From: c.publicLocked(m), Text: reason}}
		// Files the member was sending will not finish: free them now.
		for k, t := range c.transfers {
			if k.sender == f.Session {
				delete(c.transfers, k)
				evs = append(evs, Event{Type: "file-failed", From: t.from, File: &t.info, Text: "the sender left before the file was complete"})
			}
		}
		// Whoever left must not read what comes next: a new epoch.
		if err := c.startEpochLocked(ctx); err != nil {
			evs = append(evs, Event{Type: "error", Text: "could not start a new epoch: " + err.Error()})
		}
		return evs
	case protocol.Error:
		return []Event{{Type: "error", Code: int(f.Code), Text: f.Reason}}
	case protocol.State:
		return c.stateLocked(f)
	case protocol.Envelope:
		evs, err := c.envelopeLocked(ctx, f.Body(), f.Header)
		if err != nil {
			return append(evs, Event{Type: "reject", Text: err.Error()})
		}
		return evs
	}
	return []Event{{Type: "reject", Text: fmt.Sprintf("unexpected %T from the server", f)}}
}

// errReject wraps every reason an envelope is refused.
var errReject = errors.New("envelope rejected")

func rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errReject, fmt.Sprintf(format, args...))
}

// envelopeLocked handles one envelope. Nothing about a member changes
// unless the envelope verified and opened.
func (c *Client) envelopeLocked(ctx context.Context, env []byte, h protocol.Header) ([]Event, error) {
	if h.RID != c.keys.RID {
		return nil, rejectf("another room")
	}
	if protocol.Addressed(h.Kind) && h.To != c.session {
		return nil, rejectf("addressed to someone else")
	}
	if h.Kind == protocol.KindHello {
		return c.helloLocked(ctx, env, h)
	}
	m, ok := c.members[h.Sender]
	if !ok {
		return nil, rejectf("from an unknown session")
	}
	if h.Suite != e2ee.SuiteV2 {
		return nil, rejectf("suite %d", h.Suite)
	}
	if h.Kind == protocol.KindReport {
		if h.Seq <= m.ctlSeen {
			return nil, rejectf("replayed control envelope")
		}
		evs, err := c.reportLocked(env, m)
		if err == nil {
			m.ctlSeen = h.Seq
		}
		return evs, err
	}
	if h.Epoch == 0 || h.Seq == 0 {
		return nil, rejectf("epoch and seq start at 1 in suite 2")
	}
	if _, err := e2ee.Verify(env, m.EdPub); err != nil {
		return nil, rejectf("bad signature")
	}
	switch h.Kind {
	case protocol.KindSenderKey:
		if h.Seq <= m.ctlSeen {
			return nil, rejectf("replayed control envelope")
		}
		_, ck, n, err := e2ee.OpenSenderKey(env, c.id.X, m.EdPub)
		if err != nil || n == 0 {
			return nil, rejectf("sender key does not open")
		}
		if m.recv != nil && h.Epoch == m.epoch {
			// Sent again after this client resumed, in case it was lost
			// while the socket was down: the chain already held stays.
			m.ctlSeen = h.Seq
			return nil, nil
		}
		if m.recv != nil && h.Epoch < m.epoch {
			return nil, rejectf("sender key for an old epoch")
		}
		m.ctlSeen = h.Seq
		if m.recv != nil {
			m.recv.Erase()
		}
		m.epoch, m.recv = h.Epoch, e2ee.NewRecvChain(ck, n)
		return nil, nil
	case protocol.KindMsg:
		if m.recv == nil || h.Epoch != m.epoch {
			return nil, rejectf("no key for epoch %d of %s", h.Epoch, m.Alias)
		}
		return c.openChainLocked(env, h, m, m.recv, "msg", "")
	case protocol.KindHandshake:
		return c.handshakeLocked(ctx, env, h, m)
	case protocol.KindDM:
		if m.dm == nil || m.dm.recv == nil || m.dm.sid != h.Epoch {
			return nil, rejectf("no DM session %d with %s", h.Epoch, m.Alias)
		}
		return c.openChainLocked(env, h, m, m.dm.recv, "dm", m.dm.safety)
	case protocol.KindChunk:
		return c.chunkLocked(env, h, m)
	}
	return nil, rejectf("kind %d", h.Kind)
}

func (c *Client) openChainLocked(env []byte, h protocol.Header, m *member, rc *e2ee.RecvChain, typ, safety string) ([]Event, error) {
	mk, missing, commit, err := rc.Key(h.Seq)
	if err != nil {
		return nil, rejectf("%v", err)
	}
	data, err := e2ee.Decrypt(env, mk[:]) // the signature was checked in envelopeLocked
	if err != nil {
		return nil, rejectf("does not open")
	}
	var msg Message
	if err := json.Unmarshal(data, &msg); err != nil || msg.ID == "" {
		return nil, rejectf("not a message")
	}
	commit()
	if msg.File == nil {
		c.rememberLocked(msg.ID, m.Session, env, mk)
	}
	from := c.publicLocked(m)
	var evs []Event
	if missing > 0 {
		evs = append(evs, Event{Type: "gap", From: from, Missing: missing})
	}
	if msg.File != nil {
		fe, err := c.fileStartLocked(m, msg, typ == "dm")
		if err != nil {
			return evs, err
		}
		return append(evs, fe...), nil
	}
	e := Event{Type: typ, From: from, ID: msg.ID, Text: msg.Body, TTL: msg.TTL, Safety: safety}
	if typ == "dm" {
		e.Hybrid = m.dm.hybrid
	}
	return append(evs, e), nil
}

func (c *Client) helloLocked(ctx context.Context, env []byte, h protocol.Header) ([]Event, error) {
	if h.Sender == c.session {
		return nil, rejectf("our own hello")
	}
	nm, _, err := e2ee.OpenHello(c.keys, env)
	if err != nil {
		return nil, rejectf("hello does not open")
	}
	if old, ok := c.members[h.Sender]; ok {
		if !old.EdPub.Equal(nm.EdPub) || string(old.XPub) != string(nm.XPub) {
			return []Event{{Type: "warning", From: c.publicLocked(old), Text: "a second hello with different keys for this session was refused"}}, nil
		}
		if h.Seq <= old.ctlSeen {
			return nil, rejectf("replayed hello")
		}
		// The member re-announced itself (after a resume): it may have
		// missed our key, so it gets it again.
		old.ctlSeen = h.Seq
		if err := c.sendKeyLocked(ctx, old); err != nil {
			return []Event{{Type: "error", Text: "could not send our key: " + err.Error()}}, nil
		}
		return nil, nil
	}
	m := &member{Member: nm, ctlSeen: h.Seq}
	c.addLocked(m)
	evs := []Event{{Type: "join", From: c.publicLocked(m)}}
	if err := c.sendKeyLocked(ctx, m); err != nil {
		evs = append(evs, Event{Type: "error", Text: "could not send our key: " + err.Error()})
	}
	return evs, nil
}

// Say sends a group message.
func (c *Client) Say(ctx context.Context, text string, ttl int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return ErrClosed
	}
	return c.sendMessageLocked(ctx, 0, Message{ID: newID(), Body: text, TTL: ttl})
}

// sendMessageLocked sends msg to the room (to = 0) or in the established DM
// session with to.
func (c *Client) sendMessageLocked(ctx context.Context, to uint32, msg Message) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if to != 0 {
		m, ok := c.members[to]
		if !ok || m.dm == nil || m.dm.send == nil {
			return ErrNotMember
		}
		return c.sendDMDataLocked(ctx, m, data)
	}
	g := c.group
	if g.chain.Sent(g.first) >= e2ee.EpochMessages || c.now().Sub(g.start) >= e2ee.EpochAge {
		if err := c.startEpochLocked(ctx); err != nil {
			return err
		}
		g = c.group
	}
	mk, seq := g.chain.Next()
	h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindMsg, RID: c.keys.RID, Sender: c.session, Epoch: g.epoch, Seq: seq}
	env, err := e2ee.Seal(h, mk[:], c.id.Ed, data, nil)
	if err != nil {
		return err
	}
	return c.write(ctx, envFrame(env))
}

// Logout ends the session for good.
func (c *Client) Logout(ctx context.Context) error {
	return c.write(ctx, protocol.Encode(protocol.Logout{}))
}

// Purge asks the relay to end the room; owner may be nil.
func (c *Client) Purge(ctx context.Context, owner *[32]byte) error {
	return c.write(ctx, protocol.Encode(protocol.Purge{Owner: owner}))
}

// Close leaves the room (a clean close, as a closed tab) and waits for the
// read loop to end.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = ErrClosed
	}
	c.mu.Unlock()
	err := c.conn().Close()
	c.cancel()
	for range c.events {
	}
	return err
}

// dmSession is one DM session with a member.
type dmSession struct {
	sid       uint32
	initiator bool
	eph       *ecdh.PrivateKey
	dk        *mlkem.DecapsulationKey768
	kem       []byte
	ePub      []byte
	send      *e2ee.SendChain
	recv      *e2ee.RecvChain
	safety    string
	hybrid    bool
	queue     []string
}

func (d *dmSession) erase() {
	if d.send != nil {
		d.send.Erase()
	}
	if d.recv != nil {
		d.recv.Erase()
	}
	d.eph, d.dk = nil, nil
}

type handshake struct {
	T     string `json:"t"`
	E     string `json:"e"`
	KEM   string `json:"kem,omitempty"`
	KEMCT string `json:"kemct,omitempty"`
}

func (c *Client) hybridWith(m *member) bool { return !c.cfg.NoMLKEM && m.Has(e2ee.CapMLKEM) }

// DM sends a direct message to the member with session to, setting up the
// DM session first if there is none.
func (c *Client) DM(ctx context.Context, to uint32, text string) error {
	return c.dm(ctx, to, &text)
}

// DMHandshake sets up a DM session with to, if there is none, without
// sending a message; DMSafety reports it once it is established.
func (c *Client) DMHandshake(ctx context.Context, to uint32) error {
	return c.dm(ctx, to, nil)
}

func (c *Client) dm(ctx context.Context, to uint32, text *string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return ErrClosed
	}
	m, ok := c.members[to]
	if !ok {
		return ErrNotMember
	}
	if m.dm != nil && m.dm.send != nil {
		if text == nil {
			return nil
		}
		return c.sendDMLocked(ctx, m, *text)
	}
	if m.dm != nil { // offer pending
		if text != nil {
			m.dm.queue = append(m.dm.queue, *text)
		}
		return nil
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	d := &dmSession{sid: randomSID(), initiator: true, eph: eph, ePub: eph.PublicKey().Bytes()}
	if text != nil {
		d.queue = []string{*text}
	}
	body := handshake{T: "offer", E: b64(d.ePub)}
	if c.hybridWith(m) {
		if d.dk, err = mlkem.GenerateKey768(); err != nil {
			return err
		}
		d.kem = d.dk.EncapsulationKey().Bytes()
		body.KEM = b64(d.kem)
	}
	m.dm = d
	return c.sendHandshakeLocked(ctx, m, d.sid, body)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (c *Client) sendHandshakeLocked(ctx context.Context, m *member, sid uint32, body handshake) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	c.ctl++
	h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindHandshake, RID: c.keys.RID,
		Sender: c.session, To: m.Session, Epoch: sid, Seq: c.ctl}
	env, err := e2ee.Seal(h, c.keys.Roster[:], c.id.Ed, data, nil)
	if err != nil {
		return err
	}
	return c.write(ctx, envFrame(env))
}

func (c *Client) sendDMLocked(ctx context.Context, m *member, text string) error {
	data, err := json.Marshal(Message{ID: newID(), Body: text})
	if err != nil {
		return err
	}
	return c.sendDMDataLocked(ctx, m, data)
}

func (c *Client) sendDMDataLocked(ctx context.Context, m *member, data []byte) error {
	mk, seq := m.dm.send.Next()
	h := protocol.Header{Version: protocol.Version, Suite: e2ee.SuiteV2, Kind: protocol.KindDM, RID: c.keys.RID,
		Sender: c.session, To: m.Session, Epoch: m.dm.sid, Seq: seq}
	env, err := e2ee.Seal(h, mk[:], c.id.Ed, data, nil)
	if err != nil {
		return err
	}
	return c.write(ctx, envFrame(env))
}

func (c *Client) handshakeLocked(ctx context.Context, env []byte, h protocol.Header, m *member) ([]Event, error) {
	if h.Seq <= m.ctlSeen {
		return nil, rejectf("replayed control envelope")
	}
	data, err := e2ee.Decrypt(env, c.keys.Roster[:]) // the signature was checked in envelopeLocked
	if err != nil {
		return nil, rejectf("handshake does not open")
	}
	var hs handshake
	if err := json.Unmarshal(data, &hs); err != nil {
		return nil, rejectf("handshake is not JSON")
	}
	peerE, err := base64.RawURLEncoding.DecodeString(hs.E)
	if err != nil || len(peerE) != 32 {
		return nil, rejectf("handshake key")
	}
	hybrid := c.hybridWith(m)
	me := e2ee.Member{EdPub: c.id.EdPub(), XPub: c.id.XPub()}
	switch hs.T {
	case "offer":
		if (hs.KEM != "") != hybrid || hs.KEMCT != "" {
			return nil, rejectf("offer's ML-KEM part does not match the capabilities")
		}
		if m.dm != nil && m.dm.send == nil && m.dm.initiator && m.Session > c.session {
			// Both offered at once: the lower session's offer stands, ours.
			m.ctlSeen = h.Seq
			return nil, nil
		}
		eph, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		p := e2ee.DMParams{RID: c.keys.RID, A: m.Session, B: c.session, SID: h.Epoch, EdA: m.EdPub, XA: m.XPub,
			EdB: me.EdPub, XB: me.XPub, EA: peerE, EB: eph.PublicKey().Bytes(), MyEph: eph, MyX: c.id.X}
		reply := handshake{T: "accept", E: b64(p.EB)}
		if hybrid {
			kem, err := base64.RawURLEncoding.DecodeString(hs.KEM)
			if err != nil {
				return nil, rejectf("ML-KEM key")
			}
			ek, err := mlkem.NewEncapsulationKey768(kem)
			if err != nil {
				return nil, rejectf("ML-KEM key")
			}
			ss, ct := ek.Encapsulate()
			p.KEM, p.KEMCT, p.SS = kem, ct, ss
			reply.KEMCT = b64(ct)
		}
		keys, err := e2ee.DMDerive(p)
		if err != nil {
			return nil, rejectf("%v", err)
		}
		m.ctlSeen = h.Seq
		var queue []string
		if m.dm != nil {
			queue = m.dm.queue
			m.dm.erase()
		}
		m.dm = &dmSession{sid: h.Epoch, send: e2ee.NewSendChain(keys.Send, 1), recv: e2ee.NewRecvChain(keys.Recv, 1), safety: keys.Safety, hybrid: hybrid}
		if err := c.sendHandshakeLocked(ctx, m, h.Epoch, reply); err != nil {
			return nil, err
		}
		return nil, c.flushDMLocked(ctx, m, queue)
	case "accept":
		d := m.dm
		if d == nil || !d.initiator || d.send != nil || d.sid != h.Epoch {
			return nil, rejectf("accept without an offer")
		}
		if (hs.KEMCT != "") != hybrid || hs.KEM != "" {
			return nil, rejectf("accept's ML-KEM part does not match the capabilities")
		}
		p := e2ee.DMParams{Initiator: true, RID: c.keys.RID, A: c.session, B: m.Session, SID: d.sid, EdA: me.EdPub, XA: me.XPub,
			EdB: m.EdPub, XB: m.XPub, EA: d.ePub, EB: peerE, MyEph: d.eph, MyX: c.id.X}
		if hybrid {
			ct, err := base64.RawURLEncoding.DecodeString(hs.KEMCT)
			if err != nil {
				return nil, rejectf("ML-KEM ciphertext")
			}
			ss, err := d.dk.Decapsulate(ct)
			if err != nil {
				return nil, rejectf("ML-KEM ciphertext")
			}
			p.KEM, p.KEMCT, p.SS = d.kem, ct, ss
		}
		keys, err := e2ee.DMDerive(p)
		if err != nil {
			return nil, rejectf("%v", err)
		}
		m.ctlSeen = h.Seq
		queue := d.queue
		d.erase()
		m.dm = &dmSession{sid: d.sid, initiator: true, send: e2ee.NewSendChain(keys.Send, 1), recv: e2ee.NewRecvChain(keys.Recv, 1), safety: keys.Safety, hybrid: hybrid}
		return nil, c.flushDMLocked(ctx, m, queue)
	}
	return nil, rejectf("handshake type %q", hs.T)
}

func (c *Client) flushDMLocked(ctx context.Context, m *member, queue []string) error {
	for _, text := range queue {
		if err := c.sendDMLocked(ctx, m, text); err != nil {
			return err
		}
	}
	return nil
}

// resumeWindow is how long the relay keeps a dropped session.
const resumeWindow = 15 * time.Second

// resume tries to take the session back after the socket failed with err,
// with backoff, within the relay's grace period. It reports whether the
// session is back; the caller then keeps reading.
func (c *Client) resume(ctx context.Context, err error) bool {
	var ce websocket.CloseError
	c.mu.Lock()
	// A close frame ends the session, except 1012: a cluster node going
	// away, whose rooms another node serves.
	restart := func(err error) bool { return errors.As(err, &ce) && ce.Code == protocol.CloseRestart }
	stop := !c.cfg.Reconnect || c.closed != nil || errors.As(err, &ce) && !restart(err) || ctx.Err() != nil
	rid, token := c.keys.RID, c.token
	c.mu.Unlock()
	if stop {
		return false
	}
	c.events <- Event{Type: "reconnecting", Text: "connection lost; reconnecting"}
	deadline := time.Now().Add(resumeWindow)
	wait := 250 * time.Millisecond
	for try := 0; time.Now().Before(deadline); try++ {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		// The back-off grows once per round of the link's server and
		// the other nodes.
		if (try+1)%(len(c.cfg.Nodes)+1) == 0 {
			wait = min(wait*2, 4*time.Second)
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ws, err := c.dialWS(dctx, try)
		if err != nil {
			cancel()
			continue
		}
		frame := protocol.Encode(protocol.Resume{RID: rid, Token: token})
		c.tap("out", frame)
		err = ws.Write(dctx, frame)
		var b []byte
		if err == nil {
			b, err = ws.Read(dctx)
		}
		cancel()
		if err != nil {
			ws.CloseNow()
			if errors.As(err, &ce) && !restart(err) {
				c.mu.Lock()
				c.closed = describeClose(err)
				c.mu.Unlock()
				return false
			}
			continue
		}
		c.tap("in", b)
		f, err := protocol.Decode(b)
		w, ok := f.(protocol.Welcome)
		if err != nil || !ok || w.Session != c.Session() {
			ws.CloseNow()
			continue
		}
		c.wsMu.Lock()
		old := c.ws
		c.ws = ws
		c.wsMu.Unlock()
		old.CloseNow()
		c.mu.Lock()
		c.ends = time.Now().Add(time.Duration(w.RemainingMS) * time.Millisecond)
		// Re-announce: any member whose key to us was lost sends it again.
		c.ctl++
		var caps []string
		if !c.cfg.NoMLKEM {
			caps = []string{e2ee.CapMLKEM}
		}
		hello, err := e2ee.SealHello(c.keys, c.session, c.ctl, c.id, c.alias, caps, nil)
		if err == nil {
			err = c.write(ctx, envFrame(hello))
		}
		c.mu.Unlock()
		if err != nil {
			c.conn().CloseNow()
			continue
		}
		c.events <- Event{Type: "reconnected", Text: "connection back; the session resumed"}
		return true
	}
	return false
}
