// Package baseline is a minimal broadcast relay: the yardstick issue 8
// measures veil's relay against, in the same run on the same machine. It is
// written the way a small server on github.com/coder/websocket usually is:
// a map of rooms under one mutex, and one goroutine per socket that reads
// a frame and writes it to every other socket of the room itself.
//
// It speaks just enough of veil's protocol for `veil bench`: POST /api/rooms
// answers 201 and creates nothing; a socket at /ws sends JOIN and gets a
// WELCOME (a random session id and token, and the latest hello of each
// member); every ENVELOPE frame it sends then goes, byte for byte, to every
// other socket that joined the same rid.
//
// It deliberately does none of veil's work: no join proof, no envelope
// header check, no routing of direct messages (everything goes to the whole
// room), no RESUME, LEFT, PURGE or moderation, no room lifetimes, no limits
// on members, rooms or connections, no rate limits, and no per-socket queue:
// a socket that stops reading stalls the senders of its room. It is not a
// chat server; never expose it.
package baseline

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"veil/internal/protocol"
)

// member is one joined socket.
type member struct {
	session uint32 // set at join
	hello   []byte // guarded by server.mu: the latest hello envelope, without the type byte
}

type server struct {
	mu    sync.Mutex
	rooms map[protocol.RID]map[*websocket.Conn]*member
}

// Handler returns the baseline's HTTP handler. Its sockets end when their
// peer leaves or the request's context ends (http.Server's BaseContext).
func Handler() http.Handler {
	s := &server{rooms: map[protocol.RID]map[*websocket.Conn]*member{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ttl":3600,"expires_in_ms":3600000}`)
	})
	mux.HandleFunc("GET /ws", s.serveWS)
	return mux
}

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	c.SetReadLimit(protocol.MaxFrame)
	ctx := r.Context()
	_, b, err := c.Read(ctx)
	if err != nil {
		return
	}
	f, err := protocol.Decode(b)
	join, ok := f.(protocol.Join)
	if err != nil || !ok {
		c.Close(protocol.CloseBadFrame, "bad frame: JOIN first")
		return
	}
	var id [4 + protocol.TokenLen]byte
	rand.Read(id[:])
	me := &member{session: binary.BigEndian.Uint32(id[:]) | 1} // never 0
	welcome := protocol.Welcome{Session: me.session, Token: [protocol.TokenLen]byte(id[4:]), RemainingMS: 3600_000}

	s.mu.Lock()
	room := s.rooms[join.RID]
	if room == nil {
		room = map[*websocket.Conn]*member{}
		s.rooms[join.RID] = room
	}
	for _, m := range room {
		if m.hello != nil {
			welcome.Members = append(welcome.Members, protocol.Member{Session: m.session, Hello: m.hello})
		}
	}
	// WELCOME is written under mu (a short write to a fresh socket): the
	// socket joins the room only once it is out, so no envelope overtakes
	// it and none sent after it is missed.
	err = c.Write(ctx, websocket.MessageBinary, protocol.Encode(welcome))
	if err == nil {
		room[c] = me
	}
	s.mu.Unlock()
	if err != nil {
		return
	}
	defer func() {
		s.mu.Lock()
		delete(room, c)
		if len(room) == 0 {
			delete(s.rooms, join.RID)
		}
		s.mu.Unlock()
	}()

	var peers []*websocket.Conn
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if len(b) == 0 || b[0] != protocol.TypeEnvelope {
			continue // nothing else is relayed
		}
		peers = peers[:0]
		s.mu.Lock()
		if len(b) > 3 && b[3] == protocol.KindHello {
			me.hello = b[1:]
		}
		for p := range room {
			if p != c {
				peers = append(peers, p)
			}
		}
		s.mu.Unlock()
		for _, p := range peers {
			p.Write(ctx, websocket.MessageBinary, b) // a peer that fails ends in its own loop
		}
	}
}
