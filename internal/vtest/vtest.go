// Package vtest starts real veil servers on loopback for tests and drives
// them with a small protocol client built on internal/e2ee. It is test
// support only: nothing outside _test files and cmd tests imports it.
package vtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/limit"
	"veil/internal/pow"
	"veil/internal/relay"
	"veil/internal/room"
	"veil/internal/web"
)

// SafeBuffer is a bytes.Buffer safe for concurrent use.
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of the contents.
func (s *SafeBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// Server is a real veil server under httptest on 127.0.0.1.
type Server struct {
	URL   string
	Rooms *room.Registry
	Relay *relay.Server
	HTTP  *httptest.Server
	Log   *SafeBuffer // every log line, at debug level
	Wire  *SafeBuffer // every byte the server read from or wrote to a socket

	conns *connSet
}

// Options adjust NewServer.
type Options struct {
	Limits room.Limits
	Relay  relay.Options
	// CreateRate limits room creations per client address (nil: none).
	CreateRate *limit.Rates
	// PoW asks a proof of work of creations and joins (nil: none).
	PoW *pow.Gate
	// Shared makes the server one node of a cluster (nil: on its own).
	Shared room.Shared
}

// NewServer starts a server and registers its shutdown with t.
func NewServer(t testing.TB, opt Options) *Server {
	t.Helper()
	if opt.Limits == (room.Limits{}) {
		opt.Limits = room.DefaultLimits
	}
	s := &Server{Log: &SafeBuffer{}, Wire: &SafeBuffer{}}
	logger := slog.New(slog.NewTextHandler(s.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Rooms = room.NewClusterRegistry(opt.Limits, opt.Shared)
	opt.Relay.PoW = opt.PoW
	s.Relay = relay.NewServer(s.Rooms, logger, opt.Relay)
	h := web.Handler(web.Config{Rooms: s.Rooms, Relay: s.Relay, CreateRate: opt.CreateRate, Keyer: s.Relay.Keyer(), PoW: opt.PoW})
	s.HTTP = httptest.NewUnstartedServer(h)
	s.conns = &connSet{}
	s.HTTP.Listener = recordingListener{s.HTTP.Listener, s.Wire, s.conns}
	s.HTTP.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	s.HTTP.Start()
	s.URL = s.HTTP.URL
	t.Cleanup(func() {
		// t.Context is already canceled here; give the sockets time to close.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Relay.Shutdown(ctx); err != nil {
			t.Errorf("relay shutdown: %v", err)
		}
		s.HTTP.Close()
	})
	return s
}

// Room is what a creator knows about a room it made.
type Room struct {
	Link     string
	Password string
	Owner    [32]byte
	TTL      time.Duration
}

// CreateOptions describe a room to create.
type CreateOptions struct {
	Password string
	Name     string
	TTL      time.Duration // default one hour
	Purge    string        // "anyone" (default) or "owner"
}

// CreateRoom creates a room through the HTTP API as a creator's client does.
func (s *Server) CreateRoom(t testing.TB, o CreateOptions) *Room {
	t.Helper()
	rm, status, err := s.TryCreate(o)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create room: status %d, %v", status, err)
	}
	return rm
}

// TryCreate is CreateRoom that reports failures instead of failing t.
func (s *Server) TryCreate(o CreateOptions) (*Room, int, error) {
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	if o.Purge == "" {
		o.Purge = "anyone"
	}
	var secret [32]byte
	rand.Read(secret[:])
	link, keys, err := linkKeys(s.URL, secret, o.Password)
	if err != nil {
		return nil, 0, err
	}
	rm := &Room{Link: link, Password: o.Password}
	rand.Read(rm.Owner[:])
	ownerHash := sha256.Sum256(rm.Owner[:])
	body := map[string]any{
		"rid":      b64(keys.RID[:]),
		"verifier": b64(keys.Verifier[:]),
		"owner":    b64(ownerHash[:]),
		"ttl":      int64(o.TTL / time.Second),
		"purge":    o.Purge,
	}
	meta, err := sealMeta(keys, o.Name, rm.Owner)
	if err != nil {
		return nil, 0, err
	}
	body["meta"] = b64(meta)
	raw, _ := json.Marshal(body)
	resp, err := http.Post(s.URL+"/api/rooms", "application/json", bytes.NewReader(raw))
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var answer struct {
		TTL   int64  `json:"ttl"`
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&answer)
	if resp.StatusCode != http.StatusCreated {
		return nil, resp.StatusCode, fmt.Errorf("create: %s", answer.Error)
	}
	rm.TTL = time.Duration(answer.TTL) * time.Second
	return rm, resp.StatusCode, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// WSURL returns the server's WebSocket endpoint.
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/ws" }

// recordingListener copies every byte read from or written to an accepted
// connection into w, so a test can search all the server saw, and keeps the
// connections so that Kill can cut them.
type recordingListener struct {
	net.Listener
	w     *SafeBuffer
	conns *connSet
}

type connSet struct {
	mu     sync.Mutex
	conns  []net.Conn
	killed bool
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.conns.mu.Lock()
	defer l.conns.mu.Unlock()
	if l.conns.killed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns.conns = append(l.conns.conns, c)
	return recordingConn{c, l.w}, nil
}

// Kill stops the server as a crash would: its listener and every connection
// it accepted close at once, with no close frame. The relay's goroutines
// see their sockets fail, and the shutdown at the end of the test finds
// nothing to say goodbye to.
func (s *Server) Kill() {
	s.conns.mu.Lock()
	s.conns.killed = true
	conns := s.conns.conns
	s.conns.conns = nil
	s.conns.mu.Unlock()
	s.HTTP.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
}

type recordingConn struct {
	net.Conn
	w *SafeBuffer
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.Write(p[:n])
	return n, err
}

func (c recordingConn) Write(p []byte) (int, error) {
	c.w.Write(p)
	return c.Conn.Write(p)
}

// Attach returns a Server for a veil server already listening at url (for
// example one started by `veil serve` in a test); only URL is set.
func Attach(url string) *Server { return &Server{URL: strings.TrimSuffix(url, "/")} }

// Unthrottled lifts the per-session rate limits and the socket caps, for
// tests and benchmarks that send bursts or open many sockets from loopback on
// purpose and measure something else.
var Unthrottled = relay.Options{MsgRate: 1e6, MsgBurst: 1e6, BytesRate: 1e12, BytesBurst: 1 << 40, CtlRate: 1e6, CtlBurst: 1e6, ConnsPerAddr: 1e6, MaxConns: 1e6}
