package vtest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veil/internal/e2ee"
	"veil/internal/protocol"
)

func linkKeys(base string, secret [32]byte, password string) (string, e2ee.Keys, error) {
	l := e2ee.Link{Base: base, Secret: secret, Password: password != ""}
	k, err := e2ee.DeriveRoom(secret[:], password)
	return l.String(), k, err
}

// Keys derives the room's keys from its link and password, as a member's
// client does.
func (r *Room) Keys(t testing.TB) e2ee.Keys {
	t.Helper()
	l, err := e2ee.ParseLink(r.Link)
	if err != nil {
		t.Fatal(err)
	}
	k, err := e2ee.DeriveRoom(l.Secret[:], r.Password)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealMeta seals the room meta as a creator's client does: the name, if
// any, and the report key derived from the owner key.
func sealMeta(k e2ee.Keys, name string, owner [32]byte) ([]byte, error) {
	rk, err := e2ee.ReportKey(owner, k)
	if err != nil {
		return nil, err
	}
	m := map[string]string{"report": b64(rk.PublicKey().Bytes())}
	if name != "" {
		m["name"] = name
	}
	raw, _ := json.Marshal(m)
	return e2ee.SealMeta(k.Roster[:], k.RID, raw, nil)
}

// Client is one member speaking the real protocol over a real WebSocket.
type Client struct {
	t       testing.TB
	WS      *websocket.Conn
	Keys    e2ee.Keys
	ID      e2ee.Identity
	Alias   string
	Welcome protocol.Welcome
	Members map[uint32]e2ee.Member // announced members, self excluded
	seq     uint64
}

// DialOptions adjust a dial.
type DialOptions struct {
	LocalIP string      // source address, e.g. "127.0.0.2"
	Header  http.Header // extra request headers
}

// Dial opens a socket to the server without joining.
func (s *Server) Dial(ctx context.Context, o DialOptions) (*websocket.Conn, error) {
	opts := &websocket.DialOptions{HTTPHeader: o.Header}
	if o.LocalIP != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(o.LocalIP)}}
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	c, _, err := websocket.Dial(ctx, s.WSURL(), opts)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(protocol.MaxWelcome)
	return c, nil
}

// Join joins rm as alias and announces a hello. It returns the close error
// when the server refuses.
func (s *Server) Join(t testing.TB, rm *Room, alias string, o DialOptions) (*Client, error) {
	t.Helper()
	l, err := e2ee.ParseLink(rm.Link)
	if err != nil {
		return nil, err
	}
	k, err := e2ee.DeriveRoom(l.Secret[:], rm.Password)
	if err != nil {
		return nil, err
	}
	id, err := e2ee.NewIdentity()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, err := s.Dial(ctx, o)
	if err != nil {
		return nil, err
	}
	c := &Client{t: t, WS: ws, Keys: k, ID: id, Alias: alias, Members: map[uint32]e2ee.Member{}}
	t.Cleanup(func() { ws.CloseNow() })
	if err := c.Write(protocol.Join{RID: k.RID, Join: k.Join}); err != nil {
		return nil, err
	}
	f, err := c.Next(ctx)
	if err != nil {
		return nil, err
	}
	w, ok := f.(protocol.Welcome)
	if !ok {
		return nil, fmt.Errorf("first frame %T, want WELCOME", f)
	}
	c.Welcome = w
	for _, m := range w.Members {
		mem, _, err := e2ee.OpenHello(k, m.Hello)
		if err != nil {
			return nil, fmt.Errorf("welcome hello: %w", err)
		}
		c.Members[m.Session] = mem
	}
	hello, err := e2ee.SealHello(k, w.Session, c.nextSeq(), id, alias, nil, nil)
	if err != nil {
		return nil, err
	}
	return c, c.WriteRaw(append([]byte{protocol.TypeEnvelope}, hello...))
}

func (c *Client) nextSeq() uint64 { c.seq++; return c.seq }

// Write sends one frame.
func (c *Client) Write(f protocol.Frame) error { return c.WriteRaw(protocol.Encode(f)) }

// WriteRaw sends raw bytes as one binary message.
func (c *Client) WriteRaw(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.WS.Write(ctx, websocket.MessageBinary, b)
}

// Next reads and decodes the next frame.
func (c *Client) Next(ctx context.Context) (protocol.Frame, error) {
	_, b, err := c.WS.Read(ctx)
	if err != nil {
		return nil, err
	}
	return protocol.Decode(b)
}

// Say sends a group message with body text.
func (c *Client) Say(text string) error {
	return c.send(protocol.KindMsg, 0, c.Keys.Msg[:], text)
}

// DM sends a direct message to the member with session to.
func (c *Client) DM(to uint32, text string) error {
	m, ok := c.Members[to]
	if !ok {
		return fmt.Errorf("no member %d", to)
	}
	key, err := e2ee.DMKey(c.ID.X, m.XPub, c.Keys.RID, c.Welcome.Session, to)
	if err != nil {
		return err
	}
	return c.send(protocol.KindDM, to, key, text)
}

func (c *Client) send(kind byte, to uint32, key []byte, text string) error {
	f, err := c.seal(kind, to, key, text)
	if err != nil {
		return err
	}
	return c.WriteRaw(f)
}

// SealFrame seals a group message frame without sending it.
func (c *Client) SealFrame(kind byte, text string) ([]byte, error) {
	return c.seal(kind, 0, c.Keys.Msg[:], text)
}

func (c *Client) seal(kind byte, to uint32, key []byte, text string) ([]byte, error) {
	var id [16]byte
	data, _ := json.Marshal(map[string]string{"id": hex.EncodeToString(id[:]), "body": text})
	h := protocol.Header{Version: 1, Suite: e2ee.SuiteV1, Kind: kind, RID: c.Keys.RID, Sender: c.Welcome.Session, To: to, Seq: c.nextSeq()}
	env, err := e2ee.Seal(h, key, c.ID.Ed, data, nil)
	if err != nil {
		return nil, err
	}
	return append([]byte{protocol.TypeEnvelope}, env...), nil
}

// Event is one thing a member saw.
type Event struct {
	Kind    string // "hello", "msg", "dm", "left", "error", "state", "report"
	From    uint32
	Text    string // message body, alias of a hello, or error reason
	Reason  byte   // LEFT's reason; STATE's flags
	Code    uint16
	Envelop []byte
}

// Recv reads frames until one event, opening envelopes; it fails on an
// envelope that does not open.
func (c *Client) Recv(ctx context.Context) (Event, error) {
	f, err := c.Next(ctx)
	if err != nil {
		return Event{}, err
	}
	switch f := f.(type) {
	case protocol.Left:
		delete(c.Members, f.Session)
		return Event{Kind: "left", From: f.Session, Reason: f.Reason}, nil
	case protocol.Error:
		return Event{Kind: "error", Code: f.Code, Text: f.Reason}, nil
	case protocol.State:
		return Event{Kind: "state", Reason: f.Flags}, nil
	case protocol.Envelope:
		env := f.Body()
		switch f.Header.Kind {
		case protocol.KindReport:
			// The relay's part is routing; the body is for the owner's client.
			return Event{Kind: "report", From: f.Header.Sender, Envelop: env}, nil
		case protocol.KindHello:
			m, _, err := e2ee.OpenHello(c.Keys, env)
			if err != nil {
				return Event{}, err
			}
			c.Members[m.Session] = m
			return Event{Kind: "hello", From: m.Session, Text: m.Alias, Envelop: env}, nil
		case protocol.KindMsg, protocol.KindDM:
			m, ok := c.Members[f.Header.Sender]
			if !ok {
				return Event{}, fmt.Errorf("envelope from unannounced session %d", f.Header.Sender)
			}
			key := c.Keys.Msg[:]
			kind := "msg"
			if f.Header.Kind == protocol.KindDM {
				kind = "dm"
				if key, err = e2ee.DMKey(c.ID.X, m.XPub, c.Keys.RID, c.Welcome.Session, m.Session); err != nil {
					return Event{}, err
				}
			}
			_, data, err := e2ee.Open(env, key, m.EdPub)
			if err != nil {
				return Event{}, err
			}
			var body struct {
				Body string `json:"body"`
			}
			if err := json.Unmarshal(data, &body); err != nil {
				return Event{}, err
			}
			return Event{Kind: kind, From: m.Session, Text: body.Body, Envelop: env}, nil
		}
	}
	return Event{}, fmt.Errorf("unexpected frame %T", f)
}

// Expect reads events until one of kind arrives, within 10 seconds.
func (c *Client) Expect(kind string) Event {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	for {
		e, err := c.Recv(ctx)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", kind, err)
		}
		if e.Kind == kind {
			return e
		}
	}
}

// ExpectClose reads until the socket closes and returns its close code and
// reason; -1 if it ended without a close frame.
func (c *Client) ExpectClose() (websocket.StatusCode, string) {
	c.t.Helper()
	return ReadUntilClose(c.t, c.WS)
}

// ReadUntilClose reads ws until it closes, within 10 seconds.
func ReadUntilClose(t testing.TB, ws *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if ctx.Err() != nil {
			t.Fatalf("socket did not close within 10s")
		}
		return -1, err.Error()
	}
}

// Poll calls cond until it is true or 10 seconds pass.
func Poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Resume takes the client's session back on a new socket, as after a drop,
// and refreshes its member list from the new WELCOME.
func (s *Server) Resume(t testing.TB, c *Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, err := s.Dial(ctx, DialOptions{})
	if err != nil {
		return err
	}
	t.Cleanup(func() { ws.CloseNow() })
	c.WS = ws
	if err := c.Write(protocol.Resume{RID: c.Keys.RID, Token: c.Welcome.Token}); err != nil {
		return err
	}
	f, err := c.Next(ctx)
	if err != nil {
		return err
	}
	w, ok := f.(protocol.Welcome)
	if !ok {
		return fmt.Errorf("resume answered %T, want WELCOME", f)
	}
	if w.Session != c.Welcome.Session || w.Token != c.Welcome.Token {
		return fmt.Errorf("resume gave session %d, want %d", w.Session, c.Welcome.Session)
	}
	c.Welcome = w
	c.Members = map[uint32]e2ee.Member{}
	for _, m := range w.Members {
		mem, _, err := e2ee.OpenHello(c.Keys, m.Hello)
		if err != nil {
			return fmt.Errorf("welcome hello: %w", err)
		}
		c.Members[m.Session] = mem
	}
	return nil
}

// CloseOf returns the close code and reason in err, or -1.
func CloseOf(err error) (int, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason
	}
	return -1, ""
}
