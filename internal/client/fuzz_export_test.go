package client

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// Hooks for fuzz_test.go (package client_test): a client that joined no
// relay, fed frames as if they came from one, so that the decoders of peer
// data run without a network round trip per input.

// NewOffline returns a client of the room of k, as session self with
// identity id, in its first epoch and with no members. What it writes goes
// to ws (and through cfg.Tap); the caller closes ws.
func NewOffline(cfg Config, k e2ee.Keys, id e2ee.Identity, self uint32, ws *websocket.Conn) *Client {
	c := &Client{cfg: cfg, keys: k, id: id, events: make(chan Event, 16), done: make(chan struct{}), now: time.Now,
		members: map[uint32]*member{}, session: self, ws: wsConn{ws}}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startEpochLocked(context.Background()) // no members: writes nothing
	return c
}

// AddMember admits m as if its hello (control counter ctl) had been
// accepted; with ck set, as if its sender key for epoch 1 (CK_1 = ck) had
// been too.
func (c *Client) AddMember(m e2ee.Member, ctl uint64, ck *[32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mb := &member{Member: m, ctlSeen: ctl}
	if ck != nil {
		mb.epoch, mb.recv = 1, e2ee.NewRecvChain(*ck, 1)
	}
	c.addLocked(mb)
}

// Feed handles frame as the read loop does and returns its events.
func (c *Client) Feed(ctx context.Context, frame []byte) []Event {
	f, err := protocol.Decode(frame)
	if err != nil {
		return []Event{{Type: "reject", Text: "malformed frame from the server"}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handleLocked(ctx, f)
}

// SetMeta sets the room's sealed meta, as a WELCOME carries it.
func (c *Client) SetMeta(meta []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta = meta
}

// SetOwnerKey gives the client the owner key, and so the report key,
// without telling the relay.
func (c *Client) SetOwnerKey(key [32]byte) error {
	rk, err := e2ee.ReportKey(key, c.keys)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mod.ownerKey, c.mod.reportKey = &key, rk
	return err
}

// CheckManifest is the check a received manifest passes: what is wrong
// with f under limit, or its key.
func CheckManifest(f FileInfo, limit int64) ([]byte, error) { return f.check(limit) }

// Transfers returns how many files are being received.
func (c *Client) Transfers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.transfers)
}

// PeerState returns what the client holds of member session: the last
// control counter accepted, and its DM session's id and whether it is
// established (sid 0: none).
func (c *Client) PeerState(session uint32) (ctl uint64, sid uint32, ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[session]
	if m == nil {
		return 0, 0, false
	}
	if m.dm != nil {
		sid, ready = m.dm.sid, m.dm.send != nil
	}
	return m.ctlSeen, sid, ready
}
