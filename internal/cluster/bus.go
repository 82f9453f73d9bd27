package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"veil/internal/protocol"
)

// Heartbeats: every node says it is alive on nodesSubject every
// HeartbeatEvery; a node not heard from for DeadAfter is taken for dead,
// and its members' sessions for dropped.
const (
	HeartbeatEvery = time.Second
	DeadAfter      = 4 * time.Second
	nodesSubject   = "veil.nodes"
	nodeHeader     = "Veil-Node"
)

// Bus carries frames between the nodes that serve a room, over one core
// NATS subject per room, and keeps track of which nodes are alive. Messages
// are at most once: a frame in flight when a node dies is lost, which
// clients show as a gap.
type Bus struct {
	nc   *nats.Conn // set at construction
	node string

	mu      sync.Mutex // guards peers, onDeath and closed
	peers   map[string]time.Time
	onDeath func(node string)
	closed  bool

	roomsMu sync.Mutex // guards rooms
	rooms   map[protocol.RID]*roomSub

	hb   *nats.Subscription
	stop chan struct{}
	done chan struct{}
}

// NewNodeID returns a fresh random node id.
func NewNodeID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewBus starts node's heartbeats on nc and listens to the others'.
// onDeath, if not nil, is called (on its own goroutine, once per death)
// when a node that was alive goes silent.
func NewBus(nc *nats.Conn, node string, onDeath func(node string)) (*Bus, error) {
	if node == "" {
		return nil, errors.New("cluster: empty node id")
	}
	b := &Bus{nc: nc, node: node, peers: map[string]time.Time{}, onDeath: onDeath,
		rooms: map[protocol.RID]*roomSub{}, stop: make(chan struct{}), done: make(chan struct{})}
	hb, err := nc.Subscribe(nodesSubject, func(m *nats.Msg) {
		from := string(m.Data)
		if from == "" || from == node {
			return
		}
		b.mu.Lock()
		b.peers[from] = time.Now()
		b.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	b.hb = hb
	if err := nc.Flush(); err != nil {
		hb.Unsubscribe()
		return nil, err
	}
	nc.Publish(nodesSubject, []byte(node))
	go b.beat()
	return b, nil
}

// beat publishes this node's heartbeat and looks for silent peers.
func (b *Bus) beat() {
	defer close(b.done)
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.nc.Publish(nodesSubject, []byte(b.node))
			var dead []string
			b.mu.Lock()
			for n, seen := range b.peers {
				if now.Sub(seen) > DeadAfter {
					delete(b.peers, n)
					dead = append(dead, n)
				}
			}
			f := b.onDeath
			b.mu.Unlock()
			if f != nil {
				for _, n := range dead {
					go f(n)
				}
			}
		}
	}
}

// Node returns this node's id.
func (b *Bus) Node() string { return b.node }

// OnNodeDeath replaces the function called when a node dies.
func (b *Bus) OnNodeDeath(fn func(node string)) {
	b.mu.Lock()
	b.onDeath = fn
	b.mu.Unlock()
}

// Alive reports whether node is this one or was heard from lately.
func (b *Bus) Alive(node string) bool {
	if node == b.node {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.peers[node]
	return ok
}

// Peers returns the other nodes heard from lately.
func (b *Bus) Peers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.peers))
	for n := range b.peers {
		out = append(out, n)
	}
	return out
}

// Publish sends data to the other nodes serving rid.
func (b *Bus) Publish(rid protocol.RID, data []byte) error {
	m := nats.NewMsg(Subject(rid))
	m.Header.Set(nodeHeader, b.node)
	m.Data = data
	return b.nc.PublishMsg(m)
}

// roomSub is this node's subscription to one room's subject.
type roomSub struct {
	sub *nats.Subscription
}

// Subscribe calls fn, in order, with every message another node publishes
// for rid and the node it came from, until the returned function is called.
// One room has one handler on a node. It returns once this node's NATS
// server has the subscription: from there, the interest reaches the other
// servers ahead of anything this node publishes after it (a route carries
// both in order), so a member who joins through this node misses nothing
// that others send in answer to its hello.
func (b *Bus) Subscribe(rid protocol.RID, fn func(from string, data []byte)) (func(), error) {
	b.roomsMu.Lock()
	defer b.roomsMu.Unlock()
	if b.rooms[rid] != nil {
		return nil, errors.New("cluster: room already has a handler on this node")
	}
	sub, err := b.nc.Subscribe(Subject(rid), func(m *nats.Msg) {
		if from := m.Header.Get(nodeHeader); from != "" && from != b.node {
			fn(from, m.Data)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := b.nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	rs := &roomSub{sub: sub}
	b.rooms[rid] = rs
	return func() {
		b.roomsMu.Lock()
		if b.rooms[rid] == rs {
			delete(b.rooms, rid)
		}
		b.roomsMu.Unlock()
		sub.Unsubscribe()
	}, nil
}

// Close stops the heartbeats; the others take this node for dead after
// DeadAfter.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	b.hb.Unsubscribe()
}
