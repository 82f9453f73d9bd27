package client

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// maxReportable is how many received messages a client can still report:
// their envelopes and message keys are kept in memory, oldest first out.
const maxReportable = 256

// received is what reporting one received message needs.
type received struct {
	id   string
	from uint32
	env  []byte
	mk   [32]byte
}

// moderation is a client's owner state and what it keeps for reports;
// guarded by the Client's mu.
type moderation struct {
	ownerKey  *[32]byte
	reportKey *ecdh.PrivateKey // derived from ownerKey
	owner     bool             // the relay confirmed the owner key
	locked    bool
	recent    []received         // the last maxReportable received messages
	departed  map[uint32]*member // members who left, so reports about them verify
}

// ErrNotReportable is returned by Report for a message this client cannot
// report: unknown, expired, too old, or a room without a report key.
var ErrNotReportable = errors.New("this message cannot be reported")

// rememberLocked keeps what a report of a received message needs.
func (c *Client) rememberLocked(id string, from uint32, env []byte, mk [32]byte) {
	if len(c.mod.recent) == maxReportable {
		c.mod.recent[0] = received{}
		c.mod.recent = c.mod.recent[1:]
	}
	c.mod.recent = append(c.mod.recent, received{id: id, from: from, env: append([]byte(nil), env...), mk: mk})
}

// Forget erases what this client kept to report the message id (its timer
// ran out, or the person deleted it).
func (c *Client) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.mod.recent {
		if c.mod.recent[i].id == id {
			c.mod.recent[i] = received{}
		}
	}
}

// reportPubLocked returns the room's report public key from its meta, or nil.
func (c *Client) reportPubLocked() []byte {
	b, err := base64.RawURLEncoding.DecodeString(c.metaLocked().Report)
	if err != nil || len(b) != 32 {
		return nil
	}
	return b
}

// CanReport reports whether this room takes reports.
func (c *Client) CanReport() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reportPubLocked() != nil
}

// Report sends the received message id to the room's owner with note
// (docs/protocol.md 9.3). Nobody but the owner learns of it.
func (c *Client) Report(ctx context.Context, id, note string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return ErrClosed
	}
	pub := c.reportPubLocked()
	if pub == nil {
		return fmt.Errorf("%w: this room takes no reports", ErrNotReportable)
	}
	var r *received
	for i := range c.mod.recent {
		if c.mod.recent[i].id == id && c.mod.recent[i].env != nil {
			r = &c.mod.recent[i]
		}
	}
	if r == nil {
		return ErrNotReportable
	}
	c.ctl++
	env, err := e2ee.SealReport(protocol.Header{RID: c.keys.RID, Sender: c.session, Seq: c.ctl}, pub, c.id.Ed, r.env, r.mk, note)
	if err != nil {
		return err
	}
	return c.write(ctx, envFrame(env))
}

// ClaimOwner proves to the relay that this session holds the owner key;
// a "state" event with Owner set follows. The key also opens reports.
func (c *Client) ClaimOwner(ctx context.Context, key [32]byte) error {
	rk, err := e2ee.ReportKey(key, c.keys)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.mod.ownerKey, c.mod.reportKey = &key, rk
	c.mu.Unlock()
	return c.write(ctx, protocol.Encode(protocol.Owner{Key: key}))
}

// Kick removes the member session from the room; only an owner session
// may (ERROR 4010 otherwise).
func (c *Client) Kick(ctx context.Context, session uint32) error {
	return c.write(ctx, protocol.Encode(protocol.Kick{Session: session}))
}

// Lock locks (or unlocks) the room to new joins; only an owner session may.
func (c *Client) Lock(ctx context.Context, locked bool) error {
	return c.write(ctx, protocol.Encode(protocol.Lock{Locked: locked}))
}

// Active tells the relay the person is still there, so the session is not
// closed as idle.
func (c *Client) Active(ctx context.Context) error {
	return c.write(ctx, protocol.Encode(protocol.Active{}))
}

// IsOwner reports whether the relay confirmed this session as an owner.
func (c *Client) IsOwner() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mod.owner
}

// Locked reports whether the room refuses new joins.
func (c *Client) Locked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mod.locked
}

func (c *Client) stateLocked(f protocol.State) []Event {
	c.mod.owner = f.Flags&protocol.StateOwner != 0
	c.mod.locked = f.Flags&protocol.StateLocked != 0
	return []Event{{Type: "state", Owner: c.mod.owner, Locked: c.mod.locked}}
}

// memberKeyLocked finds a member, present or departed, by session.
func (c *Client) memberKeyLocked(session uint32) *member {
	if m := c.members[session]; m != nil {
		return m
	}
	return c.mod.departed[session]
}

// reportLocked opens and checks a kind-7 envelope from m.
func (c *Client) reportLocked(env []byte, m *member) ([]Event, error) {
	if c.mod.reportKey == nil {
		return nil, rejectf("a report, but this client has no owner key")
	}
	r, err := e2ee.OpenReport(env, c.mod.reportKey, m.EdPub)
	if err != nil {
		return nil, rejectf("report does not open")
	}
	sender := c.memberKeyLocked(e2ee.EnvelopeSender(r.Envelope))
	if sender == nil {
		return nil, rejectf("report of a message from nobody this client has seen")
	}
	_, data, err := e2ee.CheckReported(r, c.keys.RID, sender.EdPub)
	if err != nil {
		return nil, rejectf("reported message does not check out: %v", err)
	}
	var msg Message
	if err := json.Unmarshal(data, &msg); err != nil || msg.ID == "" {
		return nil, rejectf("reported message is not a message")
	}
	reporter := c.publicLocked(m)
	return []Event{{Type: "report", From: c.publicLocked(sender), ID: msg.ID, Text: msg.Body, Reporter: &reporter, Note: r.Note}}, nil
}
