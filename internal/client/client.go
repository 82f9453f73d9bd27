// Package client is veil's Go client: it joins a room over a WebSocket and
// runs the end-to-end scheme of docs/protocol.md (suite 2: sender keys,
// DM sessions with a hybrid ML-KEM handshake between Go clients, replay
// windows and gap detection). The terminal client, the scriptable commands
// and the tests build on it. It keeps every key in memory only.
package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

// Config describes how to join.
type Config struct {
	Link     string
	Password string
	Alias    string
	// NoMLKEM leaves out the ML-KEM-768 capability (as a browser does).
	NoMLKEM bool
	// HTTPClient dials the WebSocket (for a SOCKS5 proxy, say); nil means
	// the default.
	HTTPClient *http.Client
	// Tap, when set, sees every frame sent ("out") and received ("in").
	Tap func(dir string, frame []byte)
	// Now is the clock for epoch ages; nil means time.Now.
	Now func() time.Time
	// Reconnect resumes the session after a dropped connection, with
	// backoff, for as long as the relay keeps it (15 s).
	Reconnect bool
	// MaxFile is the largest file sent or accepted; 0 means DefaultMaxFile.
	MaxFile int64
	// Nodes are other nodes of the link's cluster (http:// or https://
	// base URLs), tried in turn with the link's server when resuming.
	Nodes []string
	// Connect, when set, opens the room with no relay (a peer-to-peer
	// room, internal/p2p) for this session's keys and identity, instead of
	// the link's server; the link then needs no server address, and
	// Reconnect, Nodes and HTTPClient are not used.
	Connect func(ctx context.Context, k e2ee.Keys, id e2ee.Identity) (Conn, error)
}

// Conn carries a session's frames (docs/protocol.md): the relay's
// WebSocket, or what stands in for a relay in a peer-to-peer room.
type Conn interface {
	// Read returns the next frame. A refusal or the session's end is a
	// *CloseError (or, from a WebSocket, a websocket.CloseError).
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, frame []byte) error
	// Close ends the session as a closed tab does; CloseNow drops it.
	Close() error
	CloseNow() error
}

// wsConn is a Conn over the relay's WebSocket.
type wsConn struct{ ws *websocket.Conn }

func (w wsConn) Read(ctx context.Context) ([]byte, error) {
	_, b, err := w.ws.Read(ctx)
	return b, err
}

func (w wsConn) Write(ctx context.Context, frame []byte) error {
	return w.ws.Write(ctx, websocket.MessageBinary, frame)
}

func (w wsConn) Close() error    { return w.ws.Close(websocket.StatusNormalClosure, "bye") }
func (w wsConn) CloseNow() error { return w.ws.CloseNow() }

// Member is what the client knows of another member.
type Member struct {
	Session     uint32
	Alias       string
	Fingerprint string
	Safety      string // the member safety code for this client and the member
	Verified    bool
}

// Event is one thing that happened in the room.
type Event struct {
	Type    string // ready, join, leave, msg, dm, gap, reject, warning, error, closed, state, report
	From    Member
	ID      string
	Text    string // message body; reason for leave, reject, warning, error and closed
	TTL     int
	Missing uint64 // for gap
	Safety  string // for dm: the DM session's safety code
	Code    int    // for error and closed
	Hybrid  bool   // for dm: the session used ML-KEM-768 as well

	// For state: the room is locked; this session is an owner.
	Locked, Owner bool
	// For report (owner sessions only): From sent the message (ID, Text),
	// Reporter reported it with Note.
	Reporter *Member
	Note     string

	// For file-offer, file-progress, file and file-failed: the manifest; for
	// file, the verified content; for file-progress, the bytes so far.
	File     *FileInfo
	Data     []byte
	Progress int64
}

// Message is the plaintext of kinds 2 and 3.
type Message struct {
	ID    string    `json:"id"`
	Body  string    `json:"body"`
	TTL   int       `json:"ttl,omitempty"`
	Reply *Reply    `json:"reply,omitempty"`
	File  *FileInfo `json:"file,omitempty"`
}

// Reply quotes another message.
type Reply struct {
	ID    string `json:"id"`
	Alias string `json:"alias"`
	Text  string `json:"text"`
}

// Errors callers branch on.
var (
	ErrNotMember = errors.New("client: no such member")
	ErrClosed    = errors.New("client: closed")
)

// Client is one session in one room. Its methods are safe for concurrent
// use; Events must be drained.
type Client struct {
	// set at construction
	cfg    Config
	wsURL  string
	keys   e2ee.Keys
	id     e2ee.Identity
	events chan Event
	done   chan struct{}
	now    func() time.Time

	wsMu sync.Mutex // guards ws, replaced on resume
	ws   Conn

	mu      sync.Mutex // guards everything below
	session uint32
	token   [32]byte
	alias   string
	policy  byte
	meta    []byte
	ends    time.Time
	ctl     uint64 // control counter (kinds 1, 4, 5)
	members map[uint32]*member
	order   []uint32
	group   *sendGroup
	closed  error
	mod     moderation
	// files being received
	transfers map[transferKey]*transfer
	cancel    context.CancelFunc
}

type member struct {
	e2ee.Member
	verified bool
	ctlSeen  uint64
	epoch    uint32 // current epoch of its group chain, 0: none yet
	recv     *e2ee.RecvChain
	dm       *dmSession
}

type sendGroup struct {
	epoch uint32
	chain *e2ee.SendChain
	start time.Time
	first uint64
}

// Dial joins the room of cfg.Link and announces this session. It returns
// once the relay has admitted it; events then arrive on Events until the
// socket ends, when the channel is closed.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	l, err := e2ee.ParseLink(cfg.Link)
	if err != nil {
		return nil, err
	}
	if l.Base == "" && cfg.Connect == nil {
		return nil, fmt.Errorf("%w: the link has no server address", e2ee.ErrBadLink)
	}
	if cfg.Connect != nil {
		cfg.Reconnect, cfg.Nodes = false, nil
	}
	if l.Password && cfg.Password == "" {
		return nil, errors.New("this room needs a password")
	}
	if !l.Password {
		cfg.Password = ""
	}
	k, err := e2ee.DeriveRoom(l.Secret[:], cfg.Password)
	if err != nil {
		return nil, err
	}
	id, err := e2ee.NewIdentity()
	if err != nil {
		return nil, err
	}
	for _, n := range cfg.Nodes {
		if !strings.HasPrefix(n, "http://") && !strings.HasPrefix(n, "https://") {
			return nil, fmt.Errorf("node %q: not an http:// or https:// URL", n)
		}
	}
	c := &Client{cfg: cfg, wsURL: wsOf(l.Base), keys: k, id: id,
		events: make(chan Event, 4096), done: make(chan struct{}), now: cfg.Now, members: map[uint32]*member{}}
	if c.now == nil {
		c.now = time.Now
	}
	var b []byte
	if cfg.Connect != nil {
		b, err = c.open(ctx)
	} else {
		b, err = c.join(ctx, l.Base, "")
	}
	var ce *CloseError
	if errors.As(err, &ce) && ce.Code == protocol.ClosePoW && cfg.Connect == nil {
		// The server asks for a proof of work: do it once and join again.
		hc := cfg.HTTPClient
		if hc == nil {
			hc = http.DefaultClient
		}
		var proof string
		if proof, err = ProveWork(ctx, hc, l.Base); err == nil {
			b, err = c.join(ctx, l.Base, proof)
		}
	}
	if err != nil {
		return nil, err
	}
	ws := c.ws
	c.tap("in", b)
	f, err := protocol.Decode(b)
	w, ok := f.(protocol.Welcome)
	if err != nil || !ok {
		ws.CloseNow()
		return nil, fmt.Errorf("the server did not answer with WELCOME")
	}
	rctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.mu.Lock()
	err = c.welcomeLocked(ctx, w)
	c.mu.Unlock()
	if err != nil {
		cancel()
		ws.CloseNow()
		return nil, err
	}
	go c.readLoop(rctx)
	return c, nil
}

// open joins through Config.Connect and returns the first frame answered.
func (c *Client) open(ctx context.Context) ([]byte, error) {
	conn, err := c.cfg.Connect(ctx, c.keys, c.id)
	if err != nil {
		return nil, err
	}
	c.wsMu.Lock()
	c.ws = conn
	c.wsMu.Unlock()
	if err := c.write(ctx, protocol.Encode(protocol.Join{RID: c.keys.RID, Join: c.keys.Join})); err != nil {
		conn.CloseNow()
		return nil, err
	}
	b, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, describeClose(err)
	}
	return b, nil
}

// describeClose turns a refusal into an error a person can read.
func describeClose(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return err
}

// CloseError is the relay's reason for ending or refusing the socket.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("%s (close %d)", e.Reason, e.Code) }

func (c *Client) tap(dir string, b []byte) {
	if c.cfg.Tap != nil {
		c.cfg.Tap(dir, b)
	}
}

// join opens the socket (with proof, a proof of work, if not empty), sends
// JOIN and returns the first frame the relay answers.
func (c *Client) join(ctx context.Context, base, proof string) ([]byte, error) {
	url := c.wsURL
	if proof != "" {
		url += "?pow=" + proof
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", base, err)
	}
	ws.SetReadLimit(protocol.MaxWelcome)
	c.wsMu.Lock()
	c.ws = wsConn{ws}
	c.wsMu.Unlock()
	if err := c.write(ctx, protocol.Encode(protocol.Join{RID: c.keys.RID, Join: c.keys.Join})); err != nil {
		ws.CloseNow()
		return nil, err
	}
	_, b, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, describeClose(err)
	}
	return b, nil
}

// wsOf is the WebSocket URL of the server at base.
func wsOf(base string) string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http") + "/ws"
}

// dialWS opens a socket to the link's server, or, for try > 0, in turn to
// it and the other nodes of Config.Nodes.
func (c *Client) dialWS(ctx context.Context, try int) (Conn, error) {
	url := c.wsURL
	if n := len(c.cfg.Nodes); n > 0 && try%(n+1) > 0 {
		url = wsOf(c.cfg.Nodes[try%(n+1)-1])
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(protocol.MaxWelcome)
	return wsConn{ws}, nil
}

func (c *Client) conn() Conn {
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	return c.ws
}

func (c *Client) write(ctx context.Context, frame []byte) error {
	c.tap("out", frame)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.conn().Write(wctx, frame)
}

// Events returns the channel of room events. It is closed when the session
// ends.
func (c *Client) Events() <-chan Event { return c.events }

// Session returns this client's session id.
func (c *Client) Session() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// Alias returns the alias this client announced.
func (c *Client) Alias() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alias
}

// Fingerprint returns this client's own fingerprint.
func (c *Client) Fingerprint() string { return e2ee.Fingerprint(c.id.EdPub(), c.id.XPub()) }

// Remaining returns the room's remaining life.
func (c *Client) Remaining() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(time.Until(c.ends), 0)
}

// RoomName returns the room's name, or "".
func (c *Client) RoomName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.metaLocked().Name
}

// roomMeta is the room's sealed meta (docs/protocol.md section 3).
type roomMeta struct {
	Name   string `json:"name"`
	Report string `json:"report"` // b64url X25519 public key
}

// metaLocked opens the room's meta; a room without one, or one that does
// not open, has an empty meta.
func (c *Client) metaLocked() roomMeta {
	var m roomMeta
	if len(c.meta) == 0 {
		return m
	}
	if raw, err := e2ee.OpenMeta(c.keys.Roster[:], c.keys.RID, c.meta); err == nil {
		json.Unmarshal(raw, &m)
	}
	return m
}

// Members returns the other announced members in join order.
func (c *Client) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Member, 0, len(c.order))
	for _, s := range c.order {
		out = append(out, c.publicLocked(c.members[s]))
	}
	return out
}

// Member finds a member by alias (case-insensitive) or session number.
func (c *Client) Member(who string) (Member, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.order {
		m := c.members[s]
		if strings.EqualFold(m.Alias, who) || fmt.Sprint(m.Session) == who {
			return c.publicLocked(m), nil
		}
	}
	return Member{}, fmt.Errorf("%w: %q", ErrNotMember, who)
}

// Verify marks a member verified for this session.
func (c *Client) Verify(session uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[session]
	if !ok {
		return ErrNotMember
	}
	m.verified = true
	return nil
}

func (c *Client) publicLocked(m *member) Member {
	return Member{Session: m.Session, Alias: m.Alias, Fingerprint: m.Fingerprint(),
		Safety: e2ee.MemberSafety(c.id.EdPub(), c.id.XPub(), m.EdPub, m.XPub), Verified: m.verified}
}

// DMSafety returns the safety code of the DM session with session, or "" if
// none is established.
func (c *Client) DMSafety(session uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.members[session]; ok && m.dm != nil && m.dm.send != nil {
		return m.dm.safety
	}
	return ""
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randomSID() uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}
