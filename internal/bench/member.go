package bench

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"veil/internal/client"
	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// benchRoom is one room of a run.
type benchRoom struct {
	// set at construction
	idx    int
	server string // the base URL it was created on
	keys   e2ee.Keys
	size   int // members it should get

	created atomic.Bool
	alive   atomic.Int32 // members whose socket is open
	joined  atomic.Int32 // members admitted
	// senders maps a session to its sender; published once before traffic
	// starts and only read afterwards.
	senders atomic.Pointer[map[uint32]*sender]

	mu      sync.Mutex // guards members
	members []*member
}

// sender returns the sender with session s, or nil.
func (rm *benchRoom) sender(s uint32) *sender {
	if m := rm.senders.Load(); m != nil {
		return (*m)[s]
	}
	return nil
}

// member is one session of the run.
type member struct {
	// set at construction
	idx    int
	room   *benchRoom
	server string // base URL
	addr   string // its host:port
	send   bool   // a sender

	// set once joined, before the reader starts
	ws      *wsConn
	session uint32
	id      e2ee.Identity // a sender's own; idle members share one
	done    chan struct{} // closed when the reader returns

	known     atomic.Int32 // other members announced to it (WELCOME and hellos)
	delivered atomic.Int64 // group envelopes received
	last      atomic.Int64 // when the last arrived, ns since run.base

	// owned by the reader
	hist *histogram
	keys map[uint32]ed25519.PublicKey // --open: Ed25519 keys from the hellos
}

// join opens m's socket and joins its room: JOIN with the room's join value,
// then WELCOME. On close 4017 it does the proof of work and tries once more.
func (r *run) join(ctx context.Context, m *member) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	path := "/ws"
	for attempt := 0; ; attempt++ {
		ws, err := dialWS(ctx, r.wsClient(m.idx), "ws://"+m.addr+path)
		if err != nil {
			return err
		}
		session, hellos, err := joinOn(ctx, ws, m.room.keys)
		if err != nil && websocket.CloseStatus(err) == protocol.ClosePoW && attempt == 0 {
			ws.Close()
			proof, err := client.ProveWork(ctx, r.hc, m.server)
			if err != nil {
				return fmt.Errorf("proof of work: %w", err)
			}
			path = "/ws?pow=" + proof
			continue
		}
		if err != nil {
			ws.Close()
			return err
		}
		m.ws, m.session = ws, session
		m.known.Store(int32(len(hellos)))
		if r.cfg.Open {
			m.keys = map[uint32]ed25519.PublicKey{}
			for _, h := range hellos {
				m.learn(r, h)
			}
		}
		ws.DropBuffer()
		return nil
	}
}

// joinOn sends JOIN on ws and reads the answer, which must be WELCOME,
// within ctx. It returns the session id and the hellos the WELCOME lists.
func joinOn(ctx context.Context, ws *wsConn, k e2ee.Keys) (session uint32, hellos [][]byte, err error) {
	if err := ws.WriteBinary(ctx, protocol.Encode(protocol.Join{RID: k.RID, Join: k.Join})); err != nil {
		return 0, nil, err
	}
	p, err := ws.ReadMessage(ctx)
	if err != nil {
		return 0, nil, err
	}
	f, err := protocol.Decode(p)
	w, ok := f.(protocol.Welcome)
	if err != nil || !ok {
		return 0, nil, errors.New("the server did not answer JOIN with WELCOME")
	}
	for _, m := range w.Members {
		hellos = append(hellos, m.Hello)
	}
	return w.Session, hellos, nil
}

// hello announces m with a hello envelope (seq 1) sealed under the room's
// roster key and signed with id.
func (r *run) hello(ctx context.Context, m *member, id e2ee.Identity) error {
	env, err := e2ee.SealHello(m.room.keys, m.session, 1, id, fmt.Sprintf("bench-%d", m.idx), nil, nil)
	if err != nil {
		return err
	}
	return m.ws.WriteBinary(ctx, append([]byte{protocol.TypeEnvelope}, env...))
}

// learn opens a hello (--open) and keeps the member's signing key.
func (m *member) learn(r *run, env []byte) {
	mb, _, err := e2ee.OpenHello(m.room.keys, env)
	if err != nil {
		r.errs.add("hello does not open: "+err.Error(), 1)
		return
	}
	m.keys[mb.Session] = mb.EdPub
}

// Offsets in an ENVELOPE frame (the type byte, then the envelope's header).
const (
	frameKind   = 1 + 2
	frameSender = 1 + 20
	frameSeq    = 1 + 32
)

// read runs m's reader until its socket ends (teardown closes it). It is
// the generator's hot path: a group envelope costs a header lookup and a
// histogram count, and no allocation. Its context is never done: for one
// that can end, the WebSocket library registers a callback on every frame
// it reads (8 allocations a message).
func (m *member) read(r *run) {
	defer close(m.done)
	for {
		p, err := m.ws.ReadMessage(context.Background())
		if err != nil {
			m.room.alive.Add(-1)
			if !r.ending.Load() {
				r.errs.add(classify(err), 1)
			}
			return
		}
		if len(p) == 0 {
			continue
		}
		switch p[0] {
		case protocol.TypeEnvelope:
			if len(p) < 1+protocol.MinEnvelope {
				r.errs.add("short envelope", 1)
				continue
			}
			switch p[frameKind] {
			case protocol.KindMsg:
				m.delivery(r, p)
			case protocol.KindHello:
				m.known.Add(1)
				if m.keys != nil {
					m.learn(r, p[1:])
				}
			}
		case protocol.TypeError:
			if f, err := protocol.Decode(p); err == nil {
				e := f.(protocol.Error)
				r.errs.add(fmt.Sprintf("relay ERROR %d %s", e.Code, e.Reason), 1)
			}
		}
	}
}

// delivery counts one group envelope and its latency.
func (m *member) delivery(r *run, p []byte) {
	now := time.Since(r.base)
	s := m.room.sender(binary.BigEndian.Uint32(p[frameSender:]))
	if s == nil {
		r.errs.add("envelope from an unknown sender", 1)
		return
	}
	if m.keys != nil {
		pub := m.keys[s.m.session]
		if pub == nil {
			r.errs.add("envelope from a sender without a hello", 1)
		} else if _, _, err := e2ee.Open(p[1:], m.room.keys.Msg[:], pub); err != nil {
			r.errs.add("envelope does not open: "+err.Error(), 1)
		}
	}
	if at, ok := s.receipt(binary.BigEndian.Uint64(p[frameSeq:])); !r.measuring.Load() {
		// warming up: counted for the drain, not timed
	} else if ok {
		if m.hist == nil {
			m.hist = new(histogram)
		}
		m.hist.Record(now - at)
	} else {
		r.errs.add("delivery too late to time (or a repeat)", 1)
	}
	m.delivered.Add(1)
	m.last.Store(int64(now))
}

// source returns the local address connection i is made from: nil for one
// source address (the kernel's choice), else 127.0.0.(1 + i mod N).
func (c Config) source(i int) net.Addr {
	if c.SourceAddrs <= 1 {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%c.SourceAddrs))}
}

// wsClient returns the HTTP client connection i is dialled through: the
// one for its source address.
func (r *run) wsClient(i int) *http.Client { return r.wsClients[i%len(r.wsClients)] }
