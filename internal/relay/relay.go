// Package relay is veil's WebSocket endpoint: it admits sockets to rooms,
// reads their frames, checks envelope headers against the socket's room and
// session, and hands frames to the room for fan-out. It never decrypts a
// payload and never logs an address, an alias or a room id.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/coder/websocket"

	"veil/internal/limit"
	"veil/internal/pow"
	"veil/internal/protocol"
	"veil/internal/room"
)

// Options tune a Server.
type Options struct {
	// QueueLen is the outgoing queue per socket, in frames; a socket whose
	// queue is full is closed as too slow.
	QueueLen int
	// WriteTimeout bounds one write to a socket.
	WriteTimeout time.Duration
	// HelloTimeout bounds the wait for the first frame.
	HelloTimeout time.Duration
	// PingInterval is how often an idle peer is pinged.
	PingInterval time.Duration
	// Idle closes a session (4015, LEFT reason 6) whose client sent no
	// frame for this long; 0 means the default, below 0 never.
	Idle time.Duration
	// MsgRate and MsgBurst limit one session's messages (kinds 1 to 3) per
	// second; BytesRate and BytesBurst limit their bytes. Control envelopes
	// (kinds 4 and 5: keys and DM handshakes, which come in bursts when an
	// epoch turns) have a limiter of their own, CtlRate and CtlBurst. File
	// chunks are paced per room instead.
	MsgRate, BytesRate, CtlRate    float64
	MsgBurst, BytesBurst, CtlBurst int
	// CutAfter is how many frames a session may have dropped for going too
	// fast, with no 10 s spell within its budget between them, before it is
	// closed with 4029.
	CutAfter int
	// MaxConns caps the open sockets; ConnsPerAddr caps them per client
	// address (kept only as a keyed hash, see package limit). Beyond either,
	// the upgrade is refused with 503 or 429 and a reason.
	MaxConns, ConnsPerAddr int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// PoW, when enabled, asks a proof of work (the socket URL's "pow"
	// query parameter) of every JOIN; a RESUME needs none.
	PoW *pow.Gate
}

// DefaultOptions are the defaults of docs/protocol.md section 6.
var DefaultOptions = Options{QueueLen: 256, WriteTimeout: 10 * time.Second, HelloTimeout: 10 * time.Second, PingInterval: 30 * time.Second, Idle: time.Hour,
	MsgRate: 10, MsgBurst: 30, BytesRate: 256 << 10, BytesBurst: 1 << 20, CtlRate: 50, CtlBurst: 250, CutAfter: 100,
	MaxConns: 20_000, ConnsPerAddr: 64}

// Server serves the WebSocket endpoint.
type Server struct {
	// set at construction
	rooms   *room.Registry
	log     *slog.Logger
	opt     Options
	keyer   *limit.Keyer
	perAddr *limit.Counter

	mu       sync.Mutex // guards conns and shutdown
	conns    map[*conn]struct{}
	shutdown bool
	wg       sync.WaitGroup // one per live socket

	keepOnce sync.Once     // starts keepAlive with the first socket
	stop     chan struct{} // closed by Shutdown: keepAlive ends
}

// NewServer returns a relay over rooms. log receives no addresses, aliases
// or room ids from it.
func NewServer(rooms *room.Registry, log *slog.Logger, opt Options) *Server {
	if opt.QueueLen <= 0 {
		opt.QueueLen = DefaultOptions.QueueLen
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultOptions.WriteTimeout
	}
	if opt.HelloTimeout <= 0 {
		opt.HelloTimeout = DefaultOptions.HelloTimeout
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultOptions.PingInterval
	}
	if opt.Idle == 0 {
		opt.Idle = DefaultOptions.Idle
	}
	if opt.MsgRate <= 0 || opt.MsgBurst <= 0 {
		opt.MsgRate, opt.MsgBurst = DefaultOptions.MsgRate, DefaultOptions.MsgBurst
	}
	if opt.BytesRate <= 0 || opt.BytesBurst < protocol.MaxFrame {
		opt.BytesRate, opt.BytesBurst = DefaultOptions.BytesRate, DefaultOptions.BytesBurst
	}
	if opt.CtlRate <= 0 || opt.CtlBurst <= 0 {
		opt.CtlRate, opt.CtlBurst = DefaultOptions.CtlRate, DefaultOptions.CtlBurst
	}
	if opt.CutAfter <= 0 {
		opt.CutAfter = DefaultOptions.CutAfter
	}
	if opt.MaxConns <= 0 {
		opt.MaxConns = DefaultOptions.MaxConns
	}
	if opt.ConnsPerAddr <= 0 {
		opt.ConnsPerAddr = DefaultOptions.ConnsPerAddr
	}
	return &Server{rooms: rooms, log: log, opt: opt, conns: make(map[*conn]struct{}), stop: make(chan struct{}),
		keyer: limit.NewKeyer(opt.TrustedProxies), perAddr: limit.NewCounter(opt.ConnsPerAddr, opt.MaxConns)}
}

// Keyer returns how this server keys client addresses, so that other
// per-address limits agree with its own.
func (s *Server) Keyer() *limit.Keyer { return s.keyer }

// ServeHTTP upgrades the request and hands the socket to a goroutine of its
// own, which serves it until it ends. Cross-origin browser requests are
// refused with 403.
//
// The handler returns once the socket is open, so that the request, the
// HTTP server's state for the connection and the stack the handshake grew
// are freed: an idle socket keeps only a small stack, its small buffers
// (see corkWriter) and its own state.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := s.keyer.Key(r)
	if err := s.perAddr.Acquire(key); err != nil {
		var le *limit.Error
		errors.As(err, &le)
		s.log.Debug("socket refused", "status", le.Status, "reason", le.Msg)
		http.Error(w, le.Msg, le.Status)
		return
	}
	cw := &corkWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		s.perAddr.Release(key)
		return // Accept has written the HTTP error (403 for a foreign Origin)
	}
	ws.SetReadLimit(protocol.MaxFrame)
	c := &conn{s: s, ws: ws, cork: cw.conn, done: make(chan struct{}), finished: make(chan struct{}), proof: r.URL.Query().Get("pow")}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		s.perAddr.Release(key)
		why := s.goingAway()
		ws.Close(websocket.StatusCode(why.Code), why.Reason)
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.keepOnce.Do(func() { go s.keepAlive() })
	go func() {
		defer func() {
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.perAddr.Release(key)
			s.wg.Done()
		}()
		// As the HTTP server did for the handler: a bug met by one socket
		// ends that socket, not the process and every room with it.
		defer func() {
			if p := recover(); p != nil {
				// The runtime's own errors only: any other value could
				// carry what a peer sent, or an address.
				what := fmt.Sprintf("%T", p)
				if re, ok := p.(runtime.Error); ok {
					what = re.Error()
				}
				s.log.Error("socket handler panicked", "panic", what, "stack", string(debug.Stack()))
				ws.CloseNow()
			}
		}()
		// Not the request's context: that ends when the handler returns.
		c.serve(context.Background())
	}()
}

// goingAway is the close for sockets of a server that shuts down. One node
// of a cluster going away ends no room: its members resume through another
// node, and a socket that reaches it while it drains is told the same.
func (s *Server) goingAway() *protocol.Reject {
	if s.rooms.Clustered() {
		return protocol.ErrRestart
	}
	return protocol.ErrGoingAway
}

// Shutdown closes every socket with 1001 "server going away" (1012 on a
// cluster node, whose rooms live on), ends every room on this node, and
// waits for the sockets' goroutines until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutdown {
		close(s.stop)
	}
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	why := s.goingAway()
	s.rooms.Close(why)
	for _, c := range conns {
		c.Close(why)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("relay: sockets still open at the shutdown deadline")
	}
}

// Conns returns the number of open sockets.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// keepAlive is one goroutine for every socket, rather than one each: on
// every tick it pings each socket whose last ping is PingInterval old, so
// that a socket whose network vanished without a close is noticed (and its
// session detached) within PingInterval plus WriteTimeout; and it ends the
// session of a client that has sent no frame for the Idle limit (a tab
// left open with nobody there). It ends with Shutdown.
func (s *Server) keepAlive() {
	every := s.opt.PingInterval
	if s.opt.Idle > 0 {
		every = min(every, s.opt.Idle/4)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var conns []*conn
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			conns = conns[:0]
			for c := range s.conns {
				conns = append(conns, c)
			}
			s.mu.Unlock()
			for _, c := range conns {
				c.tick(now)
			}
			clear(conns)
		}
	}
}
